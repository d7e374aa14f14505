"""What every extraction process needs, loaded once in the server they are forked from
(`transforms/pool.py`): the extraction code, and py3langid's model, which the first language
detection of each process would otherwise load (0.31 s). Import it only there: a module imported
for its side effect."""

from pipeline.articles import build, language  # noqa: F401  (imported to be inherited)

language.load_model()
