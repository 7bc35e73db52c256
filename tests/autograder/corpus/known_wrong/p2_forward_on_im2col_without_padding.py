"""im2col never pads its input, and conv2d_forward, im2col and one matmul, fails with it."""

# "blame": conv2d_forward's own feedback must name im2col as the function to fix first.
ENTRY = {"phase": 2, "file": "conv.py",
         "extends": ("correct/alt_conv_through_im2col_col2im",
                     "known_wrong/p2_im2col_padding_ignored"),
         "place": "im2col(", "diagnosis": "the padding is ignored",
         "blame": {2: "Your im2col is wrong on this input too"}}
