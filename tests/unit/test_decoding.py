from pipeline.articles.decoding import decode_html, is_html

ARABIC = "<p>أعلنت البلدية اليوم عن افتتاح الحديقة العامة الجديدة في وسط المدينة.</p>" * 3


def _page(charset_meta: str) -> str:
    return f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset_meta}"></head>' \
           f"<body>{ARABIC}</body></html>"


def test_header_charset_wins_when_it_decodes() -> None:
    text, codec = decode_html(_page("utf-8").encode("utf-8"), "text/html; charset=UTF-8")
    assert codec == "utf-8" and ARABIC in text


def test_windows_1256_found_in_meta_when_header_has_none() -> None:
    text, codec = decode_html(_page("windows-1256").encode("cp1256"), "text/html")
    assert codec == "cp1256" and ARABIC in text


def test_wrong_header_charset_falls_back_to_meta() -> None:
    text, codec = decode_html(_page("windows-1256").encode("cp1256"), "text/html; charset=utf-8")
    assert codec == "cp1256" and ARABIC in text


def test_generic_latin1_header_yields_to_meta() -> None:
    text, _ = decode_html(_page("windows-1256").encode("cp1256"), "text/html; charset=ISO-8859-1")
    assert ARABIC in text


def test_detection_without_any_declaration() -> None:
    body = f"<html><body>{ARABIC * 4}</body></html>".encode("cp1256")
    text, _ = decode_html(body, "")
    assert ARABIC in text


def test_bom_and_invalid_utf8_never_raise() -> None:
    assert decode_html(b"\xef\xbb\xbf<p>hi</p>", "")[0] == "<p>hi</p>"
    text, _ = decode_html(b"<p>caf\xc3\xa9 \xff\xfe broken</p>", "text/html; charset=utf-8")
    assert "broken" in text


def test_is_html() -> None:
    assert is_html("text/html; charset=utf-8", b"")
    assert is_html("application/xhtml+xml", b"")
    assert is_html("", b"  <!DOCTYPE html><html>")
    assert not is_html("application/pdf", b"%PDF-1.4")
    assert not is_html("", b"%PDF-1.4")
    assert not is_html("image/png", b"\x89PNG")
