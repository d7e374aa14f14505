from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="news-ingest",
    version="0.1.0",
    description="Streaming news-feed ingestion to partitioned Parquet, on Apache Beam",
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["pipeline", "pipeline.*"]),
    include_package_data=True,
    package_data={"pipeline.commands": ["demo_data/**/*", "demo_data/*", "starter/*"]},
    install_requires=[
        "apache-beam>=2.60,<3",
        "trafilatura>=2.0,<3",
        "lxml_html_clean>=0.4",  # trafilatura fails at import without it
        "feedparser>=6.0,<7",
        "httpx>=0.27,<1",
        "httpcore>=1.0,<2",  # the deadline-aware network backend under httpx (io/deadline.py)
        "pyarrow>=15",
        "pydantic>=2.5,<3",
        "PyYAML>=6",
        "py3langid>=0.4",
        "charset-normalizer>=3",
        "protego>=0.3,<1",  # robots.txt
        "numpy>=1.24",  # MinHash signatures
        "stopwordsiso>=0.7,<1",  # keywords: stopwords per language
        "lxml>=5",  # OPML, sitemaps, page metadata
        "prometheus-client>=0.20",  # <state>/metrics.prom
        "duckdb>=1.1",  # `news-ingest sql`, `stats` and `report` read the datasets with it
    ],
    extras_require={
        "delta": ["deltalake>=1.0"],  # output.format: delta
        "test": ["pytest>=8", "pytest-timeout>=2.3", "ruff>=0.6", "deltalake>=1.0",
                 # the five readers the README documents, checked against each other
                 "polars>=1.20", "pandas>=2.2", "pyspark>=3.5"],
    },
    entry_points={"console_scripts": ["news-ingest=pipeline.cli:main"]},
)
