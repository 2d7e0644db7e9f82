"""Shared by the end-to-end tests: make data/prepared/small of the source tree point at the small
data the `data_prepare_small` fixture prepared in the build tree (unless it is already there)."""
import os


def link_small_data(root, prepared):
    small = os.path.join(root, "data", "prepared", "small")
    if os.path.exists(os.path.join(small, "SUMMARY.md")):
        return
    os.makedirs(os.path.dirname(small), exist_ok=True)
    if os.path.islink(small):
        os.unlink(small)
    os.symlink(prepared, small)
