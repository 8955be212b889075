"""Rendering: turn a plan into the text of every file, and write it as a tree or merge it."""

from gpuslice.render.tree import render_files, write_tree

__all__ = ["render_files", "write_tree"]
