"""Request/response schemas: they validate every request and generate /openapi.json."""
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.config import NAME_MODEL_ARCHS
from models.char_features import FEATURE_DIM, MAX_CHARS as MAX_ENTITY_CHARS

MAX_BATCH_ITEMS = 1000
MAX_NAME_CHARS = 100


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must contain a non-whitespace character")
    return v


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, examples=["Nakamura"],
                            description="a surname or full name as a form sends it: titles, suffixes, initials, quotes, "
                                        "apostrophe look-alikes (O´Brien) and joined particles (DeLuca) are read as "
                                        "the corpus writes names (README, names as signup forms send them); a form "
                                        "with a surname field of its own does best sending the surname alone"),
                 AfterValidator(_not_blank)]
EntityText = Annotated[str, Field(min_length=1, max_length=MAX_ENTITY_CHARS, examples=["手内肌萎缩"]),
                       AfterValidator(_not_blank)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
FeatureRow = Annotated[list[FiniteFloat], Field(min_length=FEATURE_DIM, max_length=FEATURE_DIM)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _exactly_one(obj, fields):
    given = [f for f in fields if getattr(obj, f) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(fields)}")
    return obj


class ClassifyRequest(Strict):
    """One name (`name`) or a batch (`names`), optionally the model and how many languages to return."""
    name: Name | None = None
    names: Annotated[list[Name], Field(min_length=1, max_length=MAX_BATCH_ITEMS)] | None = None
    model: Literal[NAME_MODEL_ARCHS] | None = Field(None, description="default: the service's DEFAULT_NAME_MODEL")
    top_k: int = Field(3, ge=1, le=18)

    @model_validator(mode="after")
    def _one_input(self):
        return _exactly_one(self, ("name", "names"))


class ReviewRequest(Strict):
    """One candidate (`text`), a batch (`texts`) or precomputed per-character features (`features`)."""
    text: EntityText | None = None
    texts: Annotated[list[EntityText], Field(min_length=1, max_length=MAX_BATCH_ITEMS)] | None = None
    features: Annotated[list[FeatureRow], Field(min_length=1, max_length=MAX_ENTITY_CHARS)] | None = None

    @model_validator(mode="after")
    def _one_input(self):
        return _exactly_one(self, ("text", "texts", "features"))


class Prediction(BaseModel):
    language: str
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 codes; a form pre-selects the first")
    probability: float


class NameResult(BaseModel):
    name: str
    cached: bool
    predictions: list[Prediction]
    low_confidence: bool = Field(description="top probability below the service's LOW_CONFIDENCE_THRESHOLD, or the "
                                             "name has letters or endings none of our languages writes "
                                             "(other_language_evidence)")
    unsupported_script: bool = Field(description="no letters in a script our languages use: predictions is empty")
    other_language_evidence: list[str] = Field(
        description="what none of the 18 languages writes but others do: letters as written (Turkish ş ı ğ, "
                    "Romanian ș ț, Danish and Norwegian ø, Scandinavian å, Hungarian ő ű, Icelandic ð þ, Baltic ė į ų "
                    "ķ ļ ņ ģ) and word endings (-escu, -eanu, -ić, -auskas, -oglu, -dottir): the name is likely from a "
                    "language the models do not cover, so low_confidence is set")


class ClassifyResponse(NameResult):
    model: str
    model_version: str


class ClassifyBatchResponse(BaseModel):
    model: str
    model_version: str
    results: list[NameResult]


class ReviewResult(BaseModel):
    text: str
    valid: bool = Field(description="score >= the threshold in the model's manifest (0.5 as shipped); a client may apply its own "
                                    "to score, which is calibrated (README, entity review)")
    score: float = Field(description="probability that the text is a valid medical entity (0, without a model call, "
                                     "when no character is known or the text starts or ends with punctuation or a "
                                     "symbol, which no lexicon entity does: 高血压； （高血压）)")
    cached: bool
    unknown_characters: list[str] = Field(
        description="distinct characters the encoder does not know (none occurs in the medical lexicon), after "
                    "whitespace was dropped and full-width and other compatibility forms and traditional "
                    "characters were read as the lexicon writes them (维生素 Ｃ as 维生素C, 內 as 内); when no "
                    "character is known the text is answered valid: false, score 0, without a model call")


class ReviewResponse(ReviewResult):
    model_version: str


class ReviewBatchResponse(BaseModel):
    model_version: str
    results: list[ReviewResult]


class FeatureReviewResponse(BaseModel):
    valid: bool
    score: float
    model_version: str
    cached: bool = False


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    models: dict[str, str] = Field(description="loaded model -> model_version")
    missing: list[str]
    cache: Literal["ok", "unavailable", "disabled"]


class Problem(BaseModel):
    field: str = Field(description="where, as a dotted path into the body: 'names.3' is the fourth name")
    problem: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Problem] | None = Field(None, description="with invalid_request only: the problems found, up to "
                                                            "1,000 (the message names the first five and the count)")


class ErrorResponse(BaseModel):
    error: ErrorBody
