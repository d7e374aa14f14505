import functools
import pickle

import pytest

from pipeline.articles.language import LanguageGuess, detect_language

# Headlines the Arabic-script scoring was tuned on: all must be right.
TUNED = {
    "ar": [
        "الحكومة تعلن خطة جديدة لدعم المزارعين في الصعيد",
        "ارتفاع أسعار الذهب مع تراجع الدولار في الأسواق العالمية",
        "وزير الخارجية يلتقي نظيره التركي في أنقرة",
        "منتخب المغرب يتأهل إلى نصف نهائي البطولة",
        "أمطار غزيرة تغلق الطرق في شمال البلاد",
        "البنك المركزي يثبت سعر الفائدة للمرة الثالثة",
        "افتتاح معرض الكتاب بمشاركة مئة دار نشر",
        "انقطاع الكهرباء عن أحياء واسعة من العاصمة",
        "قمة طارئة لبحث أزمة المياه",
        "رئيس جديد لنادي الزمالك",
        "انفجار في طهران",
        "ترامب: لن نتراجع",
    ],
    "fa": [
        "دولت طرح جدیدی برای حمایت از کشاورزان اعلام کرد",
        "قیمت طلا در بازار تهران افزایش یافت",
        "وزیر امور خارجه با همتای ترک خود دیدار کرد",
        "تیم ملی فوتبال ایران به مرحله بعد صعود کرد",
        "بارش شدید باران جاده‌های شمال کشور را بست",
        "بانک مرکزی نرخ بهره را ثابت نگه داشت",
        "نمایشگاه کتاب با حضور صدها ناشر گشایش یافت",
        "قطعی برق در چند محله پایتخت ادامه دارد",
        "مجلس لایحه مالیاتی را بررسی می‌کند",
        "دانشجویان به افزایش شهریه اعتراض کردند",
        "انفجار در تهران",
        "ترامپ: عقب نمی‌نشینیم",
    ],
    "ur": [
        "حکومت نے کسانوں کی مدد کے لیے نئے منصوبے کا اعلان کیا",
        "سونے کی قیمت میں مسلسل تیسرے روز اضافہ",
        "وزیر خارجہ نے ترک ہم منصب سے ملاقات کی",
        "پاکستان کرکٹ ٹیم سیمی فائنل میں پہنچ گئی",
        "شدید بارش سے شمالی علاقوں کی سڑکیں بند",
        "اسٹیٹ بینک نے شرح سود برقرار رکھی",
        "کتاب میلے میں سینکڑوں پبلشرز کی شرکت",
        "دارالحکومت کے کئی علاقوں میں بجلی غائب",
        "عمران خان کی ضمانت منظور",
        "کراچی میں گرمی کی شدید لہر",
        "ٹرمپ: پیچھے نہیں ہٹیں گے",
    ],
}

# Written before any tuning and never used to tune: a guard against overfitting.
HELD_OUT = {
    "ar": [
        "السلطات تحقق في حريق مصنع للنسيج بالإسكندرية",
        "ارتفاع عدد السياح الوافدين خلال الصيف",
        "رئيس الوزراء يفتتح محطة تحلية مياه جديدة",
        "هبوط مؤشر البورصة في ختام تعاملات الأسبوع",
        "إطلاق قمر صناعي لرصد التغيرات المناخية",
        "نقص الأدوية يثير قلق المرضى في المستشفيات",
        "فريق الهلال يفوز بكأس السوبر",
        "مفاوضات لوقف إطلاق النار تستأنف الأحد",
    ],
    "fa": [
        "آتش‌سوزی در یک کارخانه نساجی در اصفهان مهار شد",
        "تعداد گردشگران خارجی در تابستان افزایش یافت",
        "رئیس‌جمهور از یک نیروگاه خورشیدی بازدید کرد",
        "شاخص بورس تهران در پایان هفته کاهش یافت",
        "ماهواره جدید برای پایش تغییرات اقلیمی پرتاب شد",
        "کمبود دارو نگرانی بیماران را افزایش داده است",
        "پرسپولیس قهرمان جام حذفی شد",
        "مذاکرات آتش‌بس از یکشنبه از سر گرفته می‌شود",
    ],
    "ur": [
        "فیصل آباد میں کپڑے کی فیکٹری میں آگ لگ گئی",
        "گرمیوں میں غیر ملکی سیاحوں کی تعداد بڑھ گئی",
        "وزیراعظم نے شمسی توانائی کے منصوبے کا افتتاح کیا",
        "اسٹاک مارکیٹ میں ہفتے کے آخری روز مندی",
        "موسمیاتی تبدیلی پر نظر رکھنے کے لیے سیٹلائٹ روانہ",
        "ہسپتالوں میں ادویات کی قلت سے مریض پریشان",
        "لاہور قلندرز نے فائنل جیت لیا",
        "جنگ بندی کے لیے مذاکرات اتوار سے دوبارہ شروع ہوں گے",
    ],
}

ENGLISH_HEADLINES = [
    "Government announces new plan to support farmers",
    "Gold prices climb as dollar slips",
    "Storm closes roads in the north",
    "Inflation eases in November",
    "Messi returns to Barcelona",
    "UN chief urges ceasefire",
    "Central bank holds interest rates steady",
    "Students protest tuition increase",
]

PARAGRAPHS = {
    "ar": (
        "قالت وزارة الصحة في بيان صدر صباح اليوم إن فرقها الطبية تمكنت من احتواء "
        "انتشار المرض في ثلاث محافظات، مشيرة إلى أن عدد الإصابات الجديدة تراجع بشكل "
        "ملحوظ خلال الأسبوع الماضي. ودعت الوزارة المواطنين إلى الالتزام بالإرشادات "
        "الوقائية وتجنب التجمعات الكبيرة."
    ),
    "fa": (
        "وزارت بهداشت در بیانیه‌ای اعلام کرد که تیم‌های پزشکی توانسته‌اند شیوع بیماری "
        "را در سه استان مهار کنند و شمار مبتلایان جدید در هفته گذشته به‌طور محسوسی "
        "کاهش یافته است. این وزارتخانه از مردم خواست دستورالعمل‌های بهداشتی را رعایت "
        "کنند و از تجمع‌های بزرگ خودداری کنند."
    ),
    "ur": (
        "وزارت صحت نے ایک بیان میں کہا ہے کہ طبی ٹیموں نے تین صوبوں میں بیماری کے "
        "پھیلاؤ پر قابو پا لیا ہے اور گزشتہ ہفتے کے دوران نئے مریضوں کی تعداد میں "
        "نمایاں کمی آئی ہے۔ وزارت نے شہریوں سے اپیل کی کہ وہ احتیاطی تدابیر پر عمل "
        "کریں اور بڑے اجتماعات سے گریز کریں۔"
    ),
    "en": (
        "The health ministry said in a statement on Tuesday that its medical teams "
        "had contained the outbreak in three provinces, and that the number of new "
        "cases had fallen noticeably over the past week. Officials urged residents "
        "to follow the published guidance and avoid large gatherings."
    ),
}


def _cases(sets: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(lang, text) for lang, texts in sets.items() for text in texts]


@pytest.mark.parametrize(("expected", "headline"), _cases(TUNED))
def test_tuned_arabic_script_headlines(expected: str, headline: str) -> None:
    guess = detect_language(headline)
    assert guess.language == expected
    assert guess.script == "Arab"
    assert 0.0 <= guess.confidence <= 1.0


@pytest.mark.parametrize("expected", sorted(HELD_OUT))
def test_held_out_arabic_script_headlines(expected: str) -> None:
    hits = sum(detect_language(h).language == expected for h in HELD_OUT[expected])
    assert hits >= 7, f"{expected}: {hits}/8"


@pytest.mark.parametrize(("expected", "text"), sorted(PARAGRAPHS.items()))
def test_paragraphs_are_detected_confidently(expected: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.language == expected
    assert guess.confidence > 0.9


@pytest.mark.parametrize("headline", ENGLISH_HEADLINES)
def test_english_headlines_with_feed_hint(headline: str) -> None:
    guess = detect_language(headline, hint="en")
    assert guess == LanguageGuess("en", guess.confidence, "Latn")
    assert guess.confidence > 0.5


def test_hint_settles_an_ambiguous_short_text() -> None:
    unhinted = detect_language("Messi returns to Barcelona")
    hinted = detect_language("Messi returns to Barcelona", hint="en-GB")
    assert hinted.language == "en"
    assert hinted.confidence > unhinted.confidence


def test_hint_in_another_script_is_ignored() -> None:
    guess = detect_language("وزير الخارجية يلتقي نظيره التركي في أنقرة", hint="en")
    assert guess.language == "ar"


def test_hint_does_not_overturn_clear_evidence() -> None:
    urdu = "سونے کی قیمت میں مسلسل تیسرے روز اضافہ"
    assert detect_language(urdu, hint="ar").language == "ur"
    assert detect_language(PARAGRAPHS["fa"], hint="ar").language == "fa"


@pytest.mark.parametrize("text", ["", "   ", "12:30", "OK", "٢٠٢٦ !"])
def test_too_few_letters(text: str) -> None:
    assert detect_language(text) == LanguageGuess(None, 0.0, None)
    assert detect_language(text, hint="ar_SA") == LanguageGuess("ar", 0.0, None)


def test_other_arabic_script_languages_are_left_to_py3langid() -> None:
    pashto = "د افغانستان حکومت نوې پرېکړه اعلان کړه"
    assert detect_language(pashto).language == "ps"


def test_non_language_text_has_no_language() -> None:
    assert detect_language("ID 12345 ABCD-99 xyz").language is None


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("مرحبا بالعالم Hello", "Arab"),
        ("Hello مرحبا world", "Latn"),
        ("Путин прибыл в Пекин", "Cyrl"),
        ("שלום עולם", "Hebr"),
        ("नमस्ते दुनिया", "Deva"),
        ("北京今天下雨", "Hani"),
        ("ـــ ١٢٣ 123 !!", None),
        ("", None),
    ],
)
def test_dominant_script(text: str, script: str | None) -> None:
    assert detect_language(text).script == script


def test_detector_pickles_without_the_model() -> None:
    detect_language("warm up the cached identifier")
    bound = functools.partial(detect_language, hint="ar")
    payload = pickle.dumps(bound)
    assert len(payload) < 1_000
    assert pickle.loads(payload)("ارتفاع أسعار الذهب").language == "ar"
    guess = detect_language("ارتفاع أسعار الذهب")
    assert pickle.loads(pickle.dumps(guess)) == guess
