"""Moodscore: reads the emotional arc of a video and composes music that follows it.

The package is importable without ``bpy`` and without TensorFlow; TensorFlow is needed only to
train the RBM (``core.rbm.training.train``).
"""

__version__ = "0.1.0"
