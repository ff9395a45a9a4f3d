"""Language -> ISO 3166-1 alpha-2 country codes, one-to-many and versioned with each checkpoint.

Order is deliberate: the signup form pre-selects the first code. England, Scotland and
Wales have no alpha-2 code of their own (their ISO 3166-2 subdivisions are GB-ENG, GB-SCT,
GB-WLS), so English and Scottish map to GB first; Irish maps to IE first, then GB
(Northern Ireland, GB-NIR). Lists name the countries where the language/naming tradition
is a national majority or official, most populous first after the origin country.
"""

COUNTRIES_VERSION = "2026-11-23.1"

LANGUAGE_COUNTRIES = {
    "Arabic": ["SA", "EG", "DZ", "IQ", "MA", "SY", "YE", "JO", "AE", "LB", "LY", "TN", "PS", "OM", "KW", "QA", "BH", "SD"],
    "Chinese": ["CN", "TW", "HK", "SG", "MO"],
    "Czech": ["CZ"],
    "Dutch": ["NL", "BE", "SR"],
    "English": ["GB", "US", "AU", "CA", "NZ", "IE"],
    "French": ["FR", "BE", "CH", "CA", "LU", "MC"],
    "German": ["DE", "AT", "CH", "LI", "LU"],
    "Greek": ["GR", "CY"],
    "Irish": ["IE", "GB"],
    "Italian": ["IT", "CH", "SM", "VA"],
    "Japanese": ["JP"],
    "Korean": ["KR", "KP"],
    "Polish": ["PL"],
    "Portuguese": ["PT", "BR", "AO", "MZ", "CV"],
    "Russian": ["RU", "BY", "KZ", "UA"],
    "Scottish": ["GB"],
    "Spanish": ["ES", "MX", "CO", "AR", "PE", "VE", "CL", "EC", "GT", "CU", "BO", "DO", "HN", "PY", "SV", "NI", "CR", "PA", "UY"],
    "Vietnamese": ["VN"],
}

SUBDIVISIONS = {"English": "GB-ENG", "Scottish": "GB-SCT", "Irish": "GB-NIR"}
