"""The token-classification model: labelled examples, training data, tokenizer, training, inference."""
