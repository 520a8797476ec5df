"""Training the RBM: everything that scoring never needs, so the Blender add-on leaves it out.

- :mod:`.data`: training pairs from a MIDI folder or a music21 corpus (proxy labels).
- :mod:`.train`: TensorFlow 2 training (imported only when training).
- :mod:`.evaluate`: held-out masked-frame prediction quality (tests and benchmarks).
- :mod:`.cli`: ``train`` command-line options shared by ``scripts/train.py`` and ``moodscore``.

Only :mod:`.train` imports TensorFlow, and only :mod:`.data` imports music21 (lazily).
"""
