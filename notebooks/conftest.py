"""nbval settings for the chapters: stderr is never compared (TensorFlow and Keras write warnings there)."""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
