"""The LSTM autoencoder detector: learns the *shape* of normal operation, not just its level.

A rolling z-score sees only how far a reading is from the recent mean, so a
cycle that speeds up, a sensor that stops oscillating, or two sensors that stop
moving together all pass as long as each value stays in range. This detector
rebuilds each window of readings with a model trained on normal ones and flags
windows it cannot rebuild.

Import from the modules: only ``windows`` is free of torch, which costs a
second and a few hundred MB to load and is kept out of processes that only
run the z-score.

    windows.py      readings → standardised table → sliding windows; how many are needed
    model.py        the autoencoder and the reconstruction error of a window
    compute.py      device, bounded threads, seeded determinism
    trained.py      a trained model with its validation errors and threshold rule
    trainer.py      train()
    scorer.py       LSTMScorer: causal, one reading at a time or in batches
    persistence.py  save()/load() a trained model to a folder
"""
