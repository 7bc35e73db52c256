"""col2im assigns (=) instead of adding, and conv2d_backward, which gets dx from it, fails too."""

# "blame": conv2d_backward's own feedback must name col2im as the function to fix first.
ENTRY = {"phase": 3, "file": "conv.py",
         "extends": ("correct/alt_conv_through_im2col_col2im",
                     "known_wrong/p3_col2im_overwrite"),
         "place": "col2im(", "diagnosis": "overlapping windows overwrite each other",
         "blame": {3: "Your col2im is wrong on this input too"}}
