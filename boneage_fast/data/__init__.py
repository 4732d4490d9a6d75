"""Data: the synthetic hand-radiograph phantom and dataset readers."""

from boneage_fast.data.phantom import PhantomSample, render

__all__ = ["PhantomSample", "render"]
