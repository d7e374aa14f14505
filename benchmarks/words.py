"""Word lists for the synthetic corpus, written for this benchmark (no text is copied from anywhere).

Words are grouped by part of speech so `corpus.Grammar` can chain them Markov-style into sentences
that read as news copy to a language detector and to trafilatura's text-density heuristics.
"""

from __future__ import annotations

EN_WORDS: dict[str, str] = {
    "DET": "the a this that every another one the the the",  # repeats weight "the"
    "ADJ": (
        "new local regional national former annual public private small large early late rural coastal "
        "northern southern eastern western urgent modest sharp steady rising falling temporary "
        "independent joint final first second major minor senior junior weekly monthly quiet busy"
    ),
    "NOUN": (
        "council minister mayor harbour river bridge school hospital clinic market port railway station "
        "ferry company union report budget plan project inquiry court judge museum library festival "
        "season harvest factory airport road tunnel village district province committee survey study "
        "shipment contract agreement strike price rent loan bank fund programme scheme board "
        "spokesman spokeswoman director chairman resident teacher nurse farmer fisherman driver "
        "engineer official inspector researcher volunteer campaign storm drought flood shortage"
    ),
    "NOUN_PL": (
        "residents officials farmers teachers nurses workers drivers engineers volunteers traders "
        "students families visitors researchers inspectors shareholders fishermen passengers tenants "
        "councillors ministers prices rents exports imports wages sales"
    ),
    "NAME": (
        "Ardwen Brennock Calloway Dunmore Halvard Kestrel Merrow Serrin Thornby Ulvik Varden Wexley "
        "Ashgrove Belmora Corriston Delmere Elstow Farrowby Glenhollow Hestrel"
    ),
    "VERB": (
        "said announced approved rejected opened closed delayed confirmed reported warned expected "
        "signed extended reduced raised cut doubled welcomed criticised reviewed launched completed "
        "proposed agreed promised questioned estimated recorded"
    ),
    "PREP": "in on at for with after before during across near under over without against from about",
    "CONJ": "and but while although because after since",
}

AR_WORDS: dict[str, str] = {
    "VERB": (
        "أعلن أكد قال أشار أوضح افتتح وقع بدأ استقبل ارتفع انخفض بلغ شهد قرر أطلق ناقش طالب وافق "
        "رفض أضاف توقع أعلنت أكدت افتتحت بدأت استقبلت شهدت قررت أطلقت ناقشت وافقت تسعى تهدف"
    ),
    "NOUN": (
        "الحكومة الوزير المدينة البلدية المجلس السوق الميناء المياه الكهرباء المشروع الطريق الجسر "
        "المدرسة الجامعة المستشفى الطلاب المزارعون التجار الأسعار الصادرات الواردات الموسم العام "
        "الشهر الأسبوع الاقتصاد الاستثمار الشركة الشركات العمال الوظائف المصنع الإنتاج الزراعة "
        "التمور القمح الصيد السفن النقل الحافلات القطار المطار الرحلات السياحة الزوار المهرجان "
        "الثقافة المكتبة الكتب المعرض الرياضة الفريق المباراة البطولة الملعب الأمطار الجفاف الطقس "
        "الحرارة الرياح الوادي الجبل الصحراء الواحة البحر الساحل السكان الأسر الأطفال الشباب "
        "المسؤولين الخبراء التقرير الدراسة البيانات النتائج الخطة الميزانية التمويل البنك الضرائب "
        "القانون المحكمة الصحة الأطباء العلاج المرضى الحملة التعليم المعلمين البناء المساكن "
        "الإيجارات الأراضي المزارع الري الآبار اللجنة المحافظة القرية"
    ),
    "ADJ": (
        "الجديد الكبير المحلي الوطني السنوي الرسمي الأول الثاني الإضافي الرئيسي الجديدة الكبيرة "
        "المحلية الوطنية السنوية الرسمية الأولى الإضافية الرئيسية الماضي المقبل الحالي العامة "
        "الخاصة الزراعية الاقتصادية الصحية"
    ),
    "PREP": "في من إلى على عن مع بعد قبل خلال حتى بين عند منذ نحو لدى",
    "CONJ": "كما بينما حيث إذ ثم لكن وقد كذلك",
    "NAME": "سمر الريحان الصدف النخيل الفجر اللؤلؤ الزيتون الغدير الياسمين المرجان",
}

EN_FIRST = "Ruth Daniel Amira Tomas Helen Marcus Priya Owen Leila Jonas Grace Felix Nadia Simon Clara Hugo"
EN_LAST = "Adeyemi Hartley Okafor Lindqvist Moreno Pryce Castell Whitlow Ferrand Osei Brandt Kearney Sato"
AR_FIRST = "مريم أحمد سارة يوسف ليلى خالد نور عمر هدى سامي ريم طارق فاطمة حسن منى كريم"
AR_LAST = "الساعدي الحربي النجار العلي الخطيب الزين الشامي القاسم الحداد العمري الراشد البدري"

EN_SITES = "Harbor Daily|Northgate Ledger|Valley Courier|Eastbrook Tribune|Meridian Post|Coastline Herald"
AR_SITES = "أخبار الواحة|صحيفة الساحل|الرصد اليومي|نبض المدينة|الاقتصاد اليوم|صدى الوادي"

EN_SECTIONS = (
    "World|Region|Business|Science|Culture|Sport|Opinion|Weather|Travel|Food|Technology|Health|"
    "Education|Obituaries|Puzzles|Podcasts|Video|Photography|Property|Motoring|Books|Music|Letters"
)
AR_SECTIONS = "محليات|اقتصاد|رياضة|ثقافة|صحة|تعليم|منوعات|رأي|عالم|تقنية|سياحة|فنون|كتب|طقس|وظائف|عقارات"

CHROME = {
    "en": {
        "cookie": "We use cookies to personalise content and ads, to provide social media features and to "
                  "analyse our traffic. You can change your choices at any time.",
        "accept": "Accept all", "reject": "Reject all", "search": "Search", "skip": "Skip to content",
        "most_read": "Most read", "related": "Related stories", "more": "More from",
        "comments": "Comments", "newsletter": "Get the morning briefing in your inbox",
        "subscribe": "Subscribe", "share": "Share this article", "read_also": "Read also",
        "rights": "All rights reserved.", "by": "By", "wire": "(Wire Service)",
        "wire_end": "Reporting by {a}; editing by {b}.", "home": "Home",
    },
    "ar": {
        "cookie": "نستخدم ملفات تعريف الارتباط لتحسين تجربتك وتحليل حركة الزوار. يمكنك تغيير اختياراتك في أي وقت.",
        "accept": "قبول الكل", "reject": "رفض الكل", "search": "بحث", "skip": "انتقل إلى المحتوى",
        "most_read": "الأكثر قراءة", "related": "أخبار ذات صلة", "more": "المزيد من",
        "comments": "التعليقات", "newsletter": "اشترك في النشرة الصباحية", "subscribe": "اشترك",
        "share": "شارك هذا الخبر", "read_also": "اقرأ أيضا", "rights": "جميع الحقوق محفوظة.",
        "by": "بقلم", "wire": "(وكالة الأنباء)", "wire_end": "إعداد {a}؛ تحرير {b}.",
        "home": "الرئيسية",
    },
}
