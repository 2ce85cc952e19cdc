"""NLP library: text normalisation, segmentation, sentiment and themes."""
