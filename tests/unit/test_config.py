"""Config validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config, parse_config

GOOD = {"feeds": [{"url": "https://example.org/rss.xml", "language": "AR", "tags": ["world"]}]}


def test_defaults_and_normalisation() -> None:
    cfg = parse_config(GOOD)
    assert cfg.feeds[0].language == "ar" and cfg.feeds[0].tags == ("world",)
    assert cfg.http.allow_private_networks is False
    assert cfg.state_path == "./data/_state"
    assert cfg.with_paths(output="/x").state_path == "/x/_state"
    assert cfg.with_paths(output="/x", state="/s").state_path == "/s"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "htpp": {}}, "unknown key 'htpp'"),
        ({**GOOD, "http": {"timeout_s": "soon"}}, "'http.timeout_s'"),
        ({**GOOD, "http": {"max_bytes": -1}}, "'http.max_bytes'"),
        ({"feeds": [{"url": "not a url"}]}, "'feeds.0.url'"),
        ({"feeds": [{"url": "https://e.org/", "lang": "ar"}]}, "unknown key 'feeds.0.lang'"),
        ({"feeds": []}, "'feeds'"),
        ({**GOOD, "output": {"partition_by": ["colour"]}}, "'output.partition_by.0'"),
        (["feeds"], "expected a mapping"),
    ],
)
def test_invalid_configs_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(data)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "configs"
    for path in root.glob("*.yaml"):
        assert load_config(path).feeds


def test_site_or_url_and_per_feed_cadence() -> None:
    cfg = parse_config({"feeds": [{"site": "https://example.org", "poll_every": "2m"},
                                  {"url": "https://example.org/rss", "min_interval": 90, "max_interval": "1h"}]})
    site, feed = (f.source() for f in cfg.feeds)
    assert (site.url, site.site, site.poll_every_s) == ("https://example.org/", True, 120.0)
    assert (feed.site, feed.min_interval_s, feed.max_interval_s) == (False, 90.0, 3600.0)
    for bad, message in [({}, "exactly one of 'url'"),
                         ({"url": "https://e.org/f", "site": "https://e.org/"}, "exactly one of 'url'"),
                         ({"site": "https://e.org/", "kind": "news_sitemap"}, "'kind' does not apply"),
                         ({"url": "https://e.org/f", "poll_every": "soon"}, "feeds.0.poll_every"),
                         ({"url": "https://e.org/f", "poll_every": 0}, "feeds.0.poll_every"),
                         ({"url": "https://e.org/f", "min_interval": "2h", "max_interval": "1h"}, "min_interval <=")]:
        with pytest.raises(ConfigError, match=message):
            parse_config({"feeds": [bad]})


def test_a_config_over_the_size_limit_is_refused_with_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.config as config

    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", 1000)
    path = tmp_path / "huge.yaml"
    path.write_text("feeds:\n" + "".join(f"  - url: https://example.org/{i}.xml\n" for i in range(100)))
    with pytest.raises(ConfigError, match=r"huge\.yaml: config is 0 MB, over the 0 MB limit: put long feed lists"):
        load_config(path)


@pytest.mark.parametrize(("data", "message"), [
    ({"feeds": [{"url": "https://e.org/rss", "tags": "world"}]}, "'feeds.0.tags': expected a list of strings"),
    ({**GOOD, "http": {"timeout_s": "soon"}}, "'http.timeout_s': expected a number"),
    ({"feeds": [{"url": "nope"}]}, "'feeds.0.url': expected an http(s) URL"),
    ({**GOOD, "polling": {"respect_robots": "maybe"}}, "'polling.respect_robots': expected true or false"),
])
def test_type_errors_are_said_in_plain_words(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert message in str(caught.value) and "valid tuple" not in str(caught.value)
