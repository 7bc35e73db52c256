"""Write the guided notebook `solutions/notebooks/cnn_from_scratch.ipynb` from the phases table.

    python -m cnnkit.autograder.nbgrader.notebook          # rewrite the notebook
    python -m cnnkit.autograder.nbgrader.notebook --check  # exit 1 if it is out of date

The notebook holds no solution code: students write their code in `scratchcnn/*.py`; the notebook
explains each phase, gives the hand-computed examples, runs the student's functions and draws
pictures. Each phase ends with an nbgrader *task* cell (grade_id = phase name, points from
`PHASES`) that the kit's grader scores during `nbgrader autograde`.
"""

from __future__ import annotations

import argparse
import sys

import nbformat

from cnnkit.paths import KIT_ROOT
from cnnkit.phases import BONUS_PHASES, BONUS_TOTAL, MAX_TOTAL, PHASES, Phase
from .grading import cell_points

NOTEBOOK_NAME = "cnn_from_scratch.ipynb"
NOTEBOOK_PATH = KIT_ROOT / "solutions" / "notebooks" / NOTEBOOK_NAME

SETUP = r'''# Setup: finds your scratchcnn package (next to this notebook or one folder up) and reloads
# it whenever you save a .py file, so you never need to restart the kernel.
import contextlib, os, sys, traceback, warnings
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt

for folder in (Path.cwd(), Path.cwd().parent):
    if (folder / "scratchcnn" / "__init__.py").is_file():
        sys.path.insert(0, str(folder))
        break
else:
    raise FileNotFoundError("scratchcnn/ is neither next to this notebook nor one folder up")

%load_ext autoreload
%autoreload 2


class phase(contextlib.AbstractContextManager):
    """`with phase(n):` runs a phase's cell and prints one line instead of a traceback wall."""

    def __init__(self, number):
        self.number = number

    def __exit__(self, kind, err, tb):
        if kind is None or not issubclass(kind, Exception):
            return False
        if issubclass(kind, NotImplementedError):
            mine = str(err).startswith(f"Phase {self.number} ")
            print(f"Phase {self.number} not started: {err}" if mine else
                  f"Phase {self.number} can't run yet, it needs {err}")
        else:
            frames = [f for f in traceback.extract_tb(tb) if "scratchcnn" in f.filename]
            where = (f" (scratchcnn/{Path(frames[-1].filename).name}, line {frames[-1].lineno}, "
                     f"in {frames[-1].name})" if frames else "")
            print(f"Phase {self.number}: your code raised {kind.__name__}: {err}{where}")
        return True


def batch(a):
    """A 2-D array as a float (1, 1, H, W) batch."""
    return np.asarray(a, dtype=np.float64)[None, None]


def show_maps(maps, titles, cmap="gray", size=2.2):
    """Draw 2-D arrays side by side."""
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size))
    for ax, m, t in zip(np.atleast_1d(axes), maps, titles):
        ax.imshow(m, cmap=cmap)
        ax.set_title(t, fontsize=9)
        ax.axis("off")
    plt.show()'''

DATA = r'''# Data for the pictures: MNIST through cnnkit if it is here, else scikit-learn's 8x8 digits
# scaled to 28x28 (same shapes, so every cell below works with either).
def load_images():
    try:
        from cnnkit.data import load_mnist, to_nchw_float
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a re-built train file has a non-official md5
            mnist = load_mnist(download=False)
        return (to_nchw_float(mnist.x_train), np.asarray(mnist.y_train),
                to_nchw_float(mnist.x_test), np.asarray(mnist.y_test), "MNIST")
    except Exception as err:  # cnnkit or the MNIST files are not on this machine
        print(f"MNIST not available ({type(err).__name__}: {err}); using scikit-learn digits")
        from sklearn.datasets import load_digits
        digits = load_digits()
        big = np.kron(digits.images / 16.0, np.ones((3, 3)))  # 8x8 -> 24x24
        x = np.pad(big, ((0, 0), (2, 2), (2, 2)))[:, None].astype(np.float32)  # -> 28x28
        y = digits.target.astype(np.int64)
        return x[:1500], y[:1500], x[1500:], y[1500:], "scikit-learn digits"


x_train, y_train, x_test, y_test, data_name = load_images()
digit = x_test[:1]  # (1, 1, 28, 28)
print(f"{data_name}: train {x_train.shape}, test {x_test.shape}")'''


def phase_intro(p: Phase) -> str:
    tasks = "\n".join(f"- `scratchcnn/{t.split('::')[0]}`: `{t.split('::')[1]}`" for t in p.tasks)
    return (f"## {p.label}: {p.title} ({p.worth})\n\n"
            f"You write, in the `.py` files (not here):\n\n{tasks}\n\n"
            f"Public tests: `pytest tests -m {p.marker}`.")


def task_text(p: Phase) -> str:
    files = ", ".join(f"`scratchcnn/{f}`" for f in p.files)
    return (f"**{p.label} score ({p.worth}).** Graded by the kit's sandboxed "
            f"grader from your {files} only, on hidden tests of the same contract as the public "
            f"ones. Nothing in this notebook changes the score: edit the `.py` files.")


# The guide's explanations and hand examples, phase by phase: (markdown, code) pairs per phase.
PHASE_CELLS: dict[int, list[tuple[str, str]]] = {
    1: [(r'''A convolution layer slides each filter over the image and, at every position, adds up
the products of the filter with the window under it (cross-correlation: the filter is not
flipped). With stride $s$ and padding $p$ the output is
$H_o = \lfloor (H + 2p - k_h)/s \rfloor + 1$ rows (and likewise columns).

**Work by hand: the 2×2-filter trace.** Input: the 4×4 matrix $1..16$ (row by row), filter
$w = \begin{bmatrix}1 & 2\\ 3 & 4\end{bmatrix}$, bias 0, stride 1.
The first output is $1\cdot1 + 2\cdot2 + 3\cdot5 + 4\cdot6$. Compute the whole 3×3 output, then
the 2×2 output with stride 2.

<details><summary>Check your hand computation</summary>

Stride 1: $\begin{bmatrix}44 & 54 & 64\\ 84 & 94 & 104\\ 124 & 134 & 144\end{bmatrix}$ —
each step right adds 10 (every input grows by 1, filter sum 10), each step down adds 40.
Stride 2 keeps every other position: $\begin{bmatrix}44 & 64\\ 124 & 144\end{bmatrix}$.
</details>''', r'''from scratchcnn.conv import conv2d_forward_naive

x16 = batch(np.arange(1, 17).reshape(4, 4))
w22 = batch([[1, 2], [3, 4]])
with phase(1):
    for stride in (1, 2):
        out = conv2d_forward_naive(x16, w22, np.zeros(1), stride=stride)
        print(f"stride {stride}:\n{out[0, 0]}")''')],
    2: [(r'''Loops are slow. **im2col** copies every $k_h \times k_w$ window into a column
(row $r = c\,k_h k_w + i\,k_w + j$, column $k = n H_o W_o + o_h W_o + o_w$) so the whole
convolution becomes one matrix product: `w.reshape(F, -1) @ cols`.

Below: the columns of the 4×4 input for a 2×2 window, then edge filters on a digit — a
convolution layer's *feature maps*.''', r'''from scratchcnn.conv import conv2d_forward, im2col

sobel_x = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
edges = np.stack([sobel_x, sobel_x.T, -sobel_x, -sobel_x.T])[:, None]  # (4, 1, 3, 3)
with phase(2):
    print("im2col of 1..16, 2x2 windows, stride 2:\n", im2col(x16, 2, 2, stride=2))
    maps, _ = conv2d_forward(digit, edges, np.zeros(4, dtype=np.float32), padding=1)
    show_maps([digit[0, 0], *maps[0]], ["input", "vertical edges", "horizontal edges",
                                        "vertical (flipped)", "horizontal (flipped)"], cmap="RdBu")''')],
    3: [(r'''Backward through a convolution: `col2im` is the adjoint of `im2col` — it adds each column
back into the window it came from (overlapping windows *sum*). Then $dW$, $db$ and $dX$ follow from
the matrix product.

**The receptive field grows with depth.** Send a gradient of 1 from one output position back
through stacked 3×3 convolutions: the input pixels it reaches are that position's receptive
field — 3×3, then 5×5, then 7×7.''', r'''from scratchcnn.conv import conv2d_backward

with phase(3):
    fields = []
    for depth in (1, 2, 3):
        x, caches = np.zeros((1, 1, 15, 15)), []
        for _ in range(depth):
            x, cache = conv2d_forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), padding=1)
            caches.append(cache)
        grad = np.zeros_like(x)
        grad[0, 0, 7, 7] = 1.0  # one output position
        for cache in reversed(caches):
            grad, _, _ = conv2d_backward(grad, cache)
        fields.append(grad[0, 0] != 0)
    show_maps(fields, [f"{d} conv layer(s): {int(f.sum(0).max())}x{int(f.sum(1).max())}"
                       for d, f in zip((1, 2, 3), fields)], cmap="Greens")
    print("In the guide's CNN (conv3, pool2, conv3, pool2) one output sees 3, 4, 8, then 10 "
          "pixels across: pooling doubles how fast the field grows.")''')],
    4: [(r'''Max pooling keeps the largest value of each window: a smaller map that still says
*whether* a feature was present nearby.

**Work by hand.**
1. $\begin{bmatrix}1&2&5&3\\6&4&8&1\\2&7&3&9\\1&5&4&2\end{bmatrix}$, 2×2 windows, stride 2.
2. $\begin{bmatrix}10&12&8&7\\4&11&5&9\\18&13&7&7\\3&15&2&2\end{bmatrix}$, 2×2 windows, with stride 2
   and with stride 1 (overlapping windows: $H_o = (4-2)/1 + 1 = 3$).
3. The matrix $1..16$, 2×2 windows, stride 2 — max and average.

<details><summary>Check your hand computation</summary>

1. $\begin{bmatrix}6&8\\7&9\end{bmatrix}$
2. stride 2: $\begin{bmatrix}12&9\\18&7\end{bmatrix}$; stride 1:
   $\begin{bmatrix}12&12&9\\18&13&9\\18&15&7\end{bmatrix}$
3. max $\begin{bmatrix}6&8\\14&16\end{bmatrix}$, average
   $\begin{bmatrix}3.5&5.5\\11.5&13.5\end{bmatrix}$
</details>''', r'''from scratchcnn.pool import max_pool_forward

examples = [
    ("example 1, stride 2", [[1, 2, 5, 3], [6, 4, 8, 1], [2, 7, 3, 9], [1, 5, 4, 2]], 2),
    ("example 2, stride 2", [[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], 2),
    ("example 2, stride 1", [[10, 12, 8, 7], [4, 11, 5, 9], [18, 13, 7, 7], [3, 15, 2, 2]], 1),
    ("1..16, stride 2", np.arange(1, 17).reshape(4, 4), 2),
]
with phase(4):
    for title, a, stride in examples:
        out, _ = max_pool_forward(batch(a), size=2, stride=stride)
        print(f"{title}:\n{out[0, 0]}")'''),
        (r'''**Max pooling on real images**: a photo from scikit-learn and a digit. The maps shrink
by the window size, and thin bright strokes survive (bonus Phase 10 sets average pooling beside
it).''', r'''from sklearn.datasets import load_sample_image

photo = load_sample_image("china.jpg").mean(axis=2)[::2, ::2] / 255.0  # gray, 214x320
with phase(4):
    for image, name, size in ((photo, "photo", 4), (digit[0, 0], data_name + " digit", 2)):
        pooled, _ = max_pool_forward(batch(image), size=size, stride=size)
        show_maps([image, pooled[0, 0]], [name, f"max pool {size}x{size}"], size=3)''')],
    5: [(r'''Backward through max pooling: each window's gradient goes to the position of its maximum
(the *first* maximum in row-major order if there are ties); every other position gets 0.

**Work by hand.** Window $\begin{bmatrix}1&4\\2&3\end{bmatrix}$ (2×2, stride 2) with
$\partial L/\partial \text{out} = 0.5$: what is $\partial L/\partial x$?

<details><summary>Check your hand computation</summary>

$\begin{bmatrix}0&0.5\\0&0\end{bmatrix}$: only the 4 was passed on, so only it gets gradient.
</details>''', r'''from scratchcnn.pool import max_pool_backward

with phase(5):
    out, cache = max_pool_forward(batch([[1, 4], [2, 3]]), size=2, stride=2)
    print(max_pool_backward(np.full((1, 1, 1, 1), 0.5), cache)[0, 0])''')],
    6: [(r'''Flatten turns the last feature maps (N, C, H, W) into vectors (N, C·H·W) for the dense
layers; backward reshapes the gradient back.''', r'''from scratchcnn.layers import flatten_backward, flatten_forward

with phase(6):
    maps = np.random.default_rng(0).normal(size=(2, 64, 5, 5))
    flat, cache = flatten_forward(maps)
    print("flatten:", maps.shape, "->", flat.shape,
          "| backward:", flatten_backward(flat, cache).shape)''')],
    7: [(r'''A dense layer is $xW + b$; ReLU keeps positive values; softmax cross-entropy turns
logits into a loss. Sanity check: with all-zero logits every class has probability 1/10, so the
loss is $\ln 10 \approx 2.303$.''', r'''from scratchcnn.layers import dense_forward, relu_forward, softmax_cross_entropy

with phase(7):
    loss, dlogits = softmax_cross_entropy(np.zeros((4, 10)), np.array([0, 1, 2, 3]))
    print(f"loss of zero logits: {loss:.4f} (ln 10 = {np.log(10):.4f})")
    hidden, _ = relu_forward(dense_forward(np.ones((1, 3)), np.array([[1., -1], [1, -1], [1, -1]]),
                                           np.zeros(2))[0])
    print("relu(dense(ones)):", hidden)''')],
    8: [(r'''The guide's CNN: Conv(1→32, 3×3) + ReLU, MaxPool 2/2, Conv(32→64, 3×3) + ReLU,
MaxPool 2/2, Flatten (1600), Dense(1600→128) + ReLU, Dense(128→10): 225,034 parameters. Below,
the feature maps of its first layers on a digit (random filters before training).''',
         r'''from scratchcnn.model import SGD, build_guide_cnn

with phase(8):
    model = build_guide_cnn(rng=0)
    print(f"{model.num_parameters():,} parameters")
    logits = model.forward(x_test[:8])
    print("logits:", logits.shape)
    x = digit
    for layer in model.layers[:3]:
        x = layer.forward(x)
    show_maps([digit[0, 0], *x[0, :5]], ["input"] + [f"conv-relu-pool map {i}" for i in range(5)])''')],
    9: [(r'''Training: minibatch SGD with momentum over shuffled data. A short run on a few thousand
images shows the learned first-layer filters; reaching 99% needs the full set and a few epochs:
`cnnkit train --impl assignments` (or your own loop).''', r'''from scratchcnn.train import evaluate, train_epoch

with phase(9):
    model = build_guide_cnn(rng=0)
    optimizer = SGD(lr=0.05, momentum=0.9)
    stats = train_epoch(model, optimizer, x_train[:3000], y_train[:3000], batch_size=64, rng=0)
    loss, accuracy = evaluate(model, x_test[:1000], y_test[:1000])
    print(f"one epoch on 3000 images: train loss {stats['loss']:.3f}, test accuracy {accuracy:.1%}")
    filters = model.params["0.w"][:, 0]  # (32, 3, 3)
    show_maps(list(filters[:8]), [f"filter {i}" for i in range(8)], cmap="RdBu")''')],
    10: [(r'''Average pooling passes on the *mean* of each window instead of its maximum, so
backward spreads each window's gradient evenly over it: every position gets
$\partial L/\partial \text{out} / k^2$ from each window that covers it (overlapping windows add
up). Global average pooling (GAP) averages each whole map: (N, C, H, W) → (N, C).

**Work by hand.** The matrix $1..16$ (4×4), 2×2 windows: the average with stride 2, then with
stride 1 — and, for stride 1 with $\partial L/\partial \text{out}$ = ones (3×3), the gradient at
the centre positions and at the corners.

<details><summary>Check your hand computation</summary>

Stride 2: $\begin{bmatrix}3.5&5.5\\11.5&13.5\end{bmatrix}$. Stride 1: $\begin{bmatrix}3.5&4.5&5.5\\
7.5&8.5&9.5\\11.5&12.5&13.5\end{bmatrix}$. Gradient: each window gives 1/4 to its four positions;
a corner is in one window (0.25), an edge position in two (0.5), a centre position in four (1.0).
</details>''', r'''from scratchcnn.pool import avg_pool_backward, avg_pool_forward, global_avg_pool_forward

x16 = batch(np.arange(1, 17).reshape(4, 4))
with phase(10):
    for stride in (2, 1):
        out, cache = avg_pool_forward(x16, size=2, stride=stride)
        print(f"average, stride {stride}:\n{out[0, 0]}")
    print("gradient of ones, stride 1:\n", avg_pool_backward(np.ones_like(out), cache)[0, 0])
    gap, _ = global_avg_pool_forward(x16)
    print("global average pool:", gap, "(the mean of 1..16 is 8.5)")'''),
         (r'''**Max vs average pooling side by side**, on a photo, on a digit and on the guide's
first-layer feature maps (conv + ReLU, random filters): max pooling keeps the strongest response
of each window, average pooling blurs it with its weaker neighbours.''', r'''from scratchcnn.model import build_guide_cnn

with phase(10):
    for image, name, size in ((photo, "photo", 4), (digit[0, 0], data_name + " digit", 2)):
        x = batch(image)
        show_maps([image, max_pool_forward(x, size, size)[0][0, 0],
                   avg_pool_forward(x, size, size)[0][0, 0]],
                  [name, f"max pool {size}x{size}", f"average pool {size}x{size}"], size=3)
    conv = build_guide_cnn(rng=0).layers[:2]  # Conv2D(1->32) and ReLU
    maps = conv[1].forward(conv[0].forward(digit.astype(np.float32)))
    for i in range(3):
        m = maps[:, i:i + 1]
        show_maps([m[0, 0], max_pool_forward(m, 2, 2)[0][0, 0], avg_pool_forward(m, 2, 2)[0][0, 0]],
                  [f"feature map {i}", "max pool 2x2", "average pool 2x2"])'''),
         (r'''**Flatten vs GAP.** The guide's CNN flattens its last maps (64 × 5 × 5 = 1600 values) into
a Dense(1600 → 128) layer: 204,928 parameters, 91% of the network. A GAP head reduces each of the
64 maps to one number first, so Dense(64 → 10) needs only 650 parameters — and the head no longer
depends on the image size.''', r'''from scratchcnn.layers import Dense

with phase(10):
    heads = {"flatten + Dense(1600->128)": Dense(1600, 128), "GAP + Dense(64->10)": Dense(64, 10)}
    for name, head in heads.items():
        print(f"{name}: {sum(p.size for p in head.params.values()):,} parameters")
    gap, _ = global_avg_pool_forward(np.zeros((1, 64, 5, 5), np.float32))
    print("GAP output for the guide's last maps:", gap.shape)''')],
    11: [(r'''The **receptive field** of a unit is the patch of input pixels it can see. Each layer
with kernel $k$ widens it by $(k-1)\cdot j$, where the *jump* $j$ is the product of the strides
before it (how far apart neighbouring units are, in input pixels):
$r_i = r_{i-1} + (k_i - 1)\,j_{i-1}$, $j_i = j_{i-1}\,s_i$, starting from $r_0 = j_0 = 1$.

**Work by hand.** conv 3×3, pool 2×2/2, conv 3×3, pool 2×2/2, conv 3×3 (all convs stride 1).

<details><summary>Check your hand computation</summary>

3 → 4 → 8 → 10 → 18: the pools add little themselves but double the jump, so every later
3×3 conv adds 2·2 = 4 and then 2·4 = 8 pixels.
</details>''', r'''from scratchcnn.model import receptive_field

guide = [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)]
with phase(11):
    print("guide:", receptive_field(guide))
    print("the same without pooling:", receptive_field([("conv", 3, 1)] * 5))
    print("stride-2 convs instead of pools:",
          receptive_field([("conv", 3, 2), ("conv", 3, 2), ("conv", 3, 1)]))''')],
    12: [(r'''**Batch normalisation** normalises each channel over the batch and the image
(N, H, W), then rescales it with learned $\gamma$ and $\beta$:
$\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$, $y = \gamma \hat x + \beta$. In training it uses
the batch's statistics and keeps running averages of them; in evaluation it uses the running
averages, so one image's prediction doesn't depend on the others in its batch. Backward must
differentiate through $\mu$ and $\sigma^2$ too, because they depend on every $x$.

**Work by hand.** One channel holding 1, 2, 3, 4 ($\epsilon$ ignored): $\mu$, $\sigma^2$
(biased), $\hat x$; the running mean after one step from 0 with momentum 0.1.

<details><summary>Check your hand computation</summary>

$\mu = 2.5$, $\sigma^2 = 1.25$, $\hat x \approx (-1.342, -0.447, 0.447, 1.342)$; running mean
$0.9 \cdot 0 + 0.1 \cdot 2.5 = 0.25$.
</details>''', r'''from scratchcnn.blocks import BatchNorm2D

with phase(12):
    bn = BatchNorm2D(1)
    out = bn.forward(np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2))
    print("x_hat:", out.ravel().round(3), "| running mean:", bn.buffers["running_mean"])
    maps = np.random.default_rng(0).normal(3.0, 5.0, size=(64, 8, 6, 6)).astype(np.float32)
    y = BatchNorm2D(8).forward(maps)
    print(f"before: mean {maps.mean():.2f}, std {maps.std():.2f} | "
          f"after: mean {y.mean():.2f}, std {y.std():.2f}")''')],
    13: [(r'''**Dropout** zeroes each activation with probability $p$ during training and scales the
survivors by $1/(1-p)$ (inverted dropout), so the expected activation is unchanged and evaluation
needs no rescaling: in evaluation mode it does nothing. Backward lets gradient through the same
positions, scaled the same way.

A **residual block** adds its input to what two convolutions make of it:
$y = \mathrm{ReLU}(F(x) + x)$. The skip connection gives the gradient a direct path back:
$\partial L/\partial x$ is the branch's gradient *plus* the gradient that arrives at the sum.''',
         r'''from scratchcnn.blocks import Dropout, ResidualBlock

with phase(13):
    drop = Dropout(p=0.5, rng=0)
    ones = np.ones((1, 1, 4, 6), np.float32)
    print("training:\n", drop.forward(ones)[0, 0])
    drop.training = False
    print("evaluation:", np.array_equal(drop.forward(ones), ones))
    block = ResidualBlock(8, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 6)).astype(np.float32)
    print("residual block:", x.shape, "->", block.forward(x).shape,
          f"| {sum(p.size for p in block.params.values()):,} parameters")''')],
}


def nbgrader_meta(grade_id: str, **fields) -> dict:
    base = {"grade": False, "solution": False, "locked": True, "grade_id": grade_id,
            "schema_version": 3}
    return {"deletable": False, "editable": False, "nbgrader": {**base, **fields}}


def build_notebook() -> nbformat.NotebookNode:
    """The guided notebook, with deterministic cell ids (so regenerating changes nothing)."""
    cells = [
        nbformat.v4.new_markdown_cell(
            f"# CNN from scratch: pooling and strides\n\n"
            f"You build a convolutional network in NumPy, phase by phase, in the package "
            f"`scratchcnn/` (one folder up in the kit's release, next to this notebook in a "
            f"course's assignment folder). **Write your code in the `.py` files**; this "
            f"notebook explains each phase, has you work the guide's examples by hand, runs your "
            f"functions and draws what they compute. A phase you haven't started prints "
            f"\"Phase N not started\".\n\n"
            f"Your score ({MAX_TOTAL:g} points, and up to {BONUS_TOTAL:g} extra-credit points from "
            f"the bonus phases {BONUS_PHASES[0].number}-{BONUS_PHASES[-1].number}, the guide's "
            f"extensions) comes from the kit's grader running hidden tests "
            f"on your `.py` files — not from this notebook, so editing cells here can't change "
            f"it."),
        nbformat.v4.new_code_cell(SETUP, metadata=nbgrader_meta("setup")),
        nbformat.v4.new_code_cell(DATA, metadata=nbgrader_meta("data")),
    ]
    for p in PHASES:
        cells.append(nbformat.v4.new_markdown_cell(phase_intro(p)))
        for i, (text, code) in enumerate(PHASE_CELLS[p.number]):
            cells.append(nbformat.v4.new_markdown_cell(text))
            cells.append(nbformat.v4.new_code_cell(
                code, metadata=nbgrader_meta(f"run_{p.name}_{i}")))
        cells.append(nbformat.v4.new_markdown_cell(
            task_text(p), metadata=nbgrader_meta(p.name, task=True, points=cell_points(p))))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number:02d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    return nb


def render() -> str:
    return nbformat.writes(build_notebook()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the notebook is stale")
    args = parser.parse_args(argv)
    text = render()
    current = NOTEBOOK_PATH.read_text() if NOTEBOOK_PATH.is_file() else ""
    if args.check:
        print("notebook is up to date" if current == text else f"{NOTEBOOK_PATH} is stale: run "
              "`python -m cnnkit.autograder.nbgrader.notebook`")
        return 0 if current == text else 1
    NOTEBOOK_PATH.parent.mkdir(parents=True, exist_ok=True)
    tmp = NOTEBOOK_PATH.with_suffix(".ipynb.tmp")
    tmp.write_text(text)
    tmp.replace(NOTEBOOK_PATH)
    print(f"wrote {NOTEBOOK_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
