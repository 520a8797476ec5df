"""The seed's learning half: an RBM over piano-roll windows joined with emotion units.

Scoring needs only this package's top level, all numpy:

- :mod:`.roll`: MIDI and note lists <-> piano roll on the 16th-note grid, and the unit layout.
- :mod:`.model`: the exported ``.npz`` model, numpy Gibbs sampling, model resolution.
- :mod:`.compose`: the RBM-Feedback / RBM-Sampling composition shared by both generators.

Training (TensorFlow, music21, the ``train`` command) lives in :mod:`.training`, which nothing
here imports, so the Blender add-on ships without it.
"""
