"""The judgement stage: themes and a candidate score for each publication, from themes.yaml's
phrases plus a model learnt from the editors' decisions.

Its modules, each importing only modules listed before it:

- ``themes``: themes.yaml read and validated (the project's one reader of it);
- ``rules``: its phrases matched against a text, the keyword-only score;
- ``features``: what is read of one publication, for training and prediction alike;
- ``model``: a model's arrays and the ``Classifier`` that scores with them (numpy only);
- ``examples``: labelled data, from the shipped file and the editors' decisions;
- ``fitting``: a model fitted to examples (scikit-learn);
- ``provenance``: which model scores (the database's newest, else the shipped one, which it
  fits with ``fitting`` only when the cache lacks it, so polls never load scikit-learn);
- ``classify``: re-scoring the publications in a database;
- ``metrics``: scores against labelled examples, cross-validation (scikit-learn);
- ``training``: `tracker train` and `tracker evaluate`.
"""
