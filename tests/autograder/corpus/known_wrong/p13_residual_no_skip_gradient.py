"""ResidualBlock's backward sends the gradient through the branch only, not through the skip."""

from .blocks import ResidualBlock, relu_backward

ENTRY = {"phase": 13, "file": "blocks.py", "place": "ResidualBlock(3).backward dx",
         "diagnosis": "dx misses the skip connection's gradient"}


def backward_branch_only(self, dout):
    relu1, relu2, _ = self.cache
    dsum = relu_backward(dout, relu2)
    dhidden = relu_backward(self.conv2.backward(dsum), relu1)
    return self.conv1.backward(dhidden)  # the bug: + dsum, the skip's share, is missing


ResidualBlock.backward = backward_branch_only
