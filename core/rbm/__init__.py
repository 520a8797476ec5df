"""The seed's learning half: an RBM over piano-roll windows joined with emotion units.

- :mod:`.roll`: MIDI and note lists <-> piano roll on the 16th-note grid, and the unit layout.
- :mod:`.model`: the exported ``.npz`` model, numpy Gibbs sampling, model resolution.
- :mod:`.compose`: the RBM-Feedback / RBM-Sampling composition shared by both generators.
- :mod:`.data`: training pairs from a MIDI folder or a music21 corpus (proxy labels).
- :mod:`.train`: TensorFlow 2 training (imported only when training).
- :mod:`.cli`: ``train`` command-line options shared by ``scripts/train.py`` and ``moodscore``.

Nothing here imports TensorFlow at import time except :mod:`.train`.
"""
