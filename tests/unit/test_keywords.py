import pytest

from pipeline.articles.keywords import _key, _words, keywords
from pipeline.text import normalize_for_hash

EN_TITLE = "Wadi Safra opens its first desalination plant"
EN_BODY = (
    "The coastal city of Wadi Safra on Sunday opened its first desalination plant, ending years of "
    "summer water rationing. The desalination plant can turn 40,000 cubic metres of seawater into "
    "drinking water every day, enough for most of the city's 310,000 residents. Mayor Nadia Kassar "
    "said the plant would run partly on solar power from panels along the harbour. \"Wadi Safra has "
    "waited a long time for this,\" Kassar told reporters. Engineers said the desalination plant uses "
    "reverse osmosis membranes, while fishermen warned that brine from desalination could harm the bay."
)
AR_TITLE = "افتتاح أول محطة لتحلية المياه في وادي صفرا"
AR_BODY = (
    "افتتحت مدينة وادي صفرا الساحلية يوم الأحد أول محطة لتحلية مياه البحر، بعد سنوات من تقنين المياه "
    "في الصيف. وقال رئيس البلدية سليم الحداد إن محطة التحلية ستنتج أربعين ألف متر مكعب من مياه الشرب "
    "يوميا، وهو ما يكفي معظم سكان وادي صفرا. وأضاف الحداد أن المحطة تعمل جزئيا بالطاقة الشمسية، كما أكد "
    "المهندسون أن محطة التحلية تعتمد على تقنية التناضح العكسي. في المقابل حذر صيادون من أن المياه "
    "المالحة الناتجة عن التحلية قد تضر بالثروة السمكية في الخليج."
)
# The same story fully vocalised in places, with tatweel and the title's hamza dropped.
AR_TITLE_VOCALISED = "افتتاح اول مَحَطَّةٍ لِتَحْلِيَةِ المِيَاهِ في وادي صَفْرا"
AR_BODY_VOCALISED = (
    AR_BODY.replace("وادي صفرا", "وَادِي صَفْرَا")
    .replace("محطة التحلية", "مَحَطَّةُ التَّحْلِيَةِ")
    .replace("المياه", "المـــيـــاه")
    .replace("الحداد", "الحدّاد")
)


def words_of(found: list[str]) -> set[str]:
    return {word.lower() for keyword in found for word in keyword.split()}


def test_english_story_yields_its_topic() -> None:
    found = keywords(EN_TITLE, EN_BODY, "en")
    assert found[:2] == ["desalination plant", "Wadi Safra"]
    assert {"desalination", "kassar", "water"} <= words_of(found)
    assert not words_of(found) & {"the", "its", "said", "told", "would", "from", "first", "city's"}
    assert len(found) == 8


def test_arabic_story_yields_its_topic() -> None:
    found = keywords(AR_TITLE, AR_BODY, "ar")
    assert found[:2] == ["محطة التحلية", "وادي صفرا"]
    assert {"التحلية", "المياه", "الحداد"} <= words_of(found)
    stopwords = {"في", "أول", "وقال", "قال", "وأضاف", "أضاف", "أكد", "كما", "يوم", "الأحد", "أن", "إن", "وهو"}
    assert not words_of(found) & stopwords


def test_diacritics_and_tatweel_do_not_split_or_show() -> None:
    assert keywords(AR_TITLE_VOCALISED, AR_BODY_VOCALISED, "ar") == keywords(AR_TITLE, AR_BODY, "ar")
    mixed = "مَحَطَّةُ الكَهْرَباءِ تَعْمَلُ. محطة الكهرباء تعمل. محطـــة الكهربـاء"
    assert keywords(None, mixed, "ar")[0] == "محطة الكهرباء"


def test_arabic_attached_forms_count_as_one_term() -> None:
    body = "والحكومة أعلنت خطة. والحكومة ترد، وبالحكومة ثقة. للحكومة رأي آخر. والحكومة تنفي. الحكومة وحكومة الظل."
    found = keywords(None, body, "ar")
    # Seven occurrences in five spellings make one keyword, shown without a bare و/ب/ل even though
    # والحكومة is the most frequent spelling.
    assert found[0] == "الحكومة"
    assert sum("حكومة" in keyword for keyword in found) == 1


def test_arabic_root_letters_are_not_mistaken_for_proclitics() -> None:
    body = "زار الوفد فلسطين ثم لبنان. وفلسطين ولبنان جارتان، وبريطانيا بعيدة. بريطانيا. فلسطين."
    # Not لسطين, بنان or ريطانيا; وفلسطين joins فلسطين (4), ولبنان joins لبنان (2).
    assert keywords(None, body, "ar")[:3] == ["فلسطين", "بريطانيا", "لبنان"]


def test_arabic_keywords_have_at_least_three_letters() -> None:
    body = "وطن وطن وطن. ولد ولد. بلد بلد بلد. مع مع مع"
    assert keywords(None, body, "ar") == ["وطن", "بلد", "ولد"]  # never طن, لد or مع, nor "وطن وطن"


def test_frequent_phrase_is_preferred_over_its_words() -> None:
    body = (
        "The solar farm near Merrow opened today. Critics of the solar farm said little. "
        "The solar farm covers a hill, and solar panels cover the roofs. Merrow welcomed the solar farm."
    )
    found = keywords(None, body, "en")
    assert found[0] == "solar farm"
    assert "farm" not in found  # every farm is inside the phrase
    assert "Merrow" in found


def test_phrases_do_not_span_punctuation() -> None:
    body = "Votes went to Kassar. Turnout fell again. Kassar. Turnout rose."
    assert "Kassar Turnout" not in keywords(None, body, "en")


def test_phrase_in_arabic() -> None:
    body = "صوّت مجلس النواب على الميزانية. وقال رئيس مجلس النواب إن المجلس سيجتمع. مجلس النواب يقر القانون."
    assert keywords(None, body, "ar")[0] == "مجلس النواب"


@pytest.mark.parametrize(
    ("title", "body", "language"),
    [
        (None, None, "en"),
        ("", "", "ar"),
        ("  \n", "\t", None),
        ("...", "!!! ؟ — «»", "ar"),
        ("2024", "٢٠٢٤ 3.5 1,000 ٣٫٥ 12%", "fr"),
        ("Said the", "it was what they said, and more", "en"),
        ("في الذي", "وقال إن هذا كما أكد، وأضاف أنه", "ar"),
    ],
)
def test_nothing_to_extract(title: str | None, body: str | None, language: str | None) -> None:
    assert keywords(title, body, language) == []


def test_numbers_and_short_words_are_dropped_in_any_language() -> None:
    body = "Le port de Brennock a exporté 2024 tonnes. Le port de Brennock ouvre en 2025."
    found = keywords(None, body, "fr")  # no French stopwords: only the generic rules
    assert "port de Brennock" not in found  # "de" is too short to be a term, so it breaks the phrase
    assert "Brennock" in found
    assert not any(keyword.isdigit() or len(keyword) < 3 for keyword in found)


def test_title_words_get_a_bonus_and_ties_go_to_first_seen() -> None:
    assert keywords("Harbour", "ferry ferry strike", "en") == ["Harbour", "ferry", "strike"]
    assert keywords(None, "gamma alpha beta", "en") == ["gamma", "alpha", "beta"]


def test_most_frequent_spelling_is_shown() -> None:
    assert keywords(None, "Desalination works. The desalination plant. More desalination.", "en")[0] == "desalination"
    assert keywords(None, "Egypt's river. Egypt and the river Nile.", "en")[:2] == ["Egypt", "river"]


def test_deterministic() -> None:
    results = {tuple(keywords(AR_TITLE, AR_BODY, "ar")) for _ in range(5)}
    results |= {tuple(keywords(AR_TITLE, AR_BODY, "ar-EG"))}
    assert len(results) == 1


def test_limit() -> None:
    everything = keywords(EN_TITLE, EN_BODY, "en", limit=100)
    assert len(everything) > 8
    assert keywords(EN_TITLE, EN_BODY, "en", limit=3) == everything[:3]
    assert keywords(EN_TITLE, EN_BODY, "en") == everything[:8]
    assert keywords(EN_TITLE, EN_BODY, "en", limit=0) == []


def test_unknown_language_uses_both_stopword_lists() -> None:
    assert keywords(EN_TITLE, EN_BODY, None) == keywords(EN_TITLE, EN_BODY, "en")
    assert keywords(AR_TITLE, AR_BODY, None) == keywords(AR_TITLE, AR_BODY, "ar")


def test_invisible_marks_and_persian_zwnj() -> None:
    body = "\u200fوادي\u200f صفرا\u200e. وادي \u200fصفرا. می\u200cخواهم می\u200cخواهم"
    assert keywords(None, body, "fa") == ["وادي صفرا", "می\u200cخواهم"]


@pytest.mark.parametrize(
    "text",
    [
        EN_BODY, AR_BODY, AR_BODY_VOCALISED, AR_TITLE_VOCALISED,
        "Straße İstanbul ǅemal ＦＵＬＬ ﻻ ﷲ ①② state-run don't O'Neill Egypt's foo_bar F-16",
        "هيئة كبار العلماء ٣٫٥ ۲۰۲۶ پاکستان کتاب ی می\u200cخواهم e\u200f\u0301 हिन्दी עִבְרִית",
    ],
)
def test_matching_key_is_normalize_for_hash(text: str) -> None:
    for word in filter(None, _words(text)):
        assert _key(word) == normalize_for_hash(word), word


_GERMAN = ("Stadtrat beschließt neue Fährverbindung",
           "Der Stadtrat hat am Dienstag eine neue Fährverbindung über den See beschlossen. Die Fähre soll "
           "ab dem Frühjahr zweimal täglich fahren und die Gemeinden am Nordufer mit der Stadt verbinden. "
           "Die Fährverbindung kostet nach Angaben der Verwaltung rund zwei Millionen Euro im Jahr. "
           "Und die Gemeinden am Nordufer hatten die Fährverbindung seit Jahren gefordert, weil die Straße "
           "um den See im Winter oft gesperrt ist. Der Stadtrat will die Fähre zunächst drei Jahre testen.")
_SPANISH = ("El ayuntamiento aprueba un nuevo transbordador",
            "El ayuntamiento aprobó el martes un nuevo transbordador que cruzará el lago dos veces al día. "
            "Según el ayuntamiento, el transbordador costará unos dos millones de euros al año y unirá los "
            "pueblos de la orilla norte con la ciudad. Los vecinos de la orilla norte pedían el transbordador "
            "desde hace años porque la carretera del lago se cierra en invierno con frecuencia.")
_INDONESIAN = ("Dewan kota setujui kapal feri baru",
               "Dewan kota pada hari Selasa menyetujui kapal feri baru yang akan menyeberangi danau dua kali "
               "sehari. Menurut dewan kota, kapal feri itu akan menghubungkan desa di tepi utara dengan kota "
               "dan biayanya sekitar dua juta euro per tahun. Warga desa di tepi utara sudah lama meminta kapal "
               "feri karena jalan di sekitar danau sering ditutup saat musim hujan dan banjir.")


@pytest.mark.parametrize(("language", "story", "expected"), [
    ("de", _GERMAN, {"fährverbindung", "stadtrat"}),
    ("es", _SPANISH, {"transbordador", "ayuntamiento"}),
    ("id", _INDONESIAN, {"kapal feri", "dewan kota"}),
])
def test_other_languages_use_their_stopwords(language: str, story: tuple[str, str], expected: set[str]) -> None:
    import stopwordsiso

    found = keywords(*story, language)
    assert expected <= {k.casefold() for k in found}
    stop = {w.casefold() for w in stopwordsiso.stopwords(language)}
    assert not [k for k in found if any(w.casefold() in stop for w in k.split())]


@pytest.mark.parametrize("language", ["ja", "zh", "th", "xx"])
def test_languages_without_word_spaces_or_stopwords_get_no_keywords(language: str) -> None:
    assert keywords("東京で新しいフェリーが就航", "市議会は火曜日、湖を渡る新しいフェリーの運航を承認した。" * 3,
                    language) == []


def test_elided_and_contracted_particles_are_not_keywords() -> None:
    body = ("Aujourd'hui, le projet d’un nouveau port à Marseille divise la ville. Le port de Marseille "
            "attend d’un ministre une réponse aujourd'hui. " * 3)
    french = keywords("Le port de Marseille", body, "fr")
    assert "Marseille" in " ".join(french)
    assert not [k for k in french if k.casefold() in ("d’un", "d'un", "aujourd'hui")]
    english = keywords("Harbour plan", "I'm sure they don't know. You're right, O'Brien said of the harbour plan. " * 3,
                       "en")
    assert "O'Brien" in english and not {"I'm", "don't", "You're"} & set(english)
