"""Training and evaluation of the NLP models: corpora, recipes, fine-tuning, model cards.

Serving code (`nlp.sentiment`, `nlp.aspects`, `nlp.emotion`...) never imports this package;
it loads what training wrote. Train with ``python -m nlp.training.train_sentiment`` (and
``train_aspects``, ``train_emotion``).
"""
