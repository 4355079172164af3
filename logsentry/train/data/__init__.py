"""Training data for the token-classification model.

Synthetic generator, real-data converters, held-out splits.
"""
