"""Run, track and check the AliExpress Open Platform developer onboarding.

The public names live here; everything else is private and may change.
"""

from .domain.eligibility import (
    Applicant,
    EligibilityReport,
    Problem,
    StorePlatform,
    check_eligibility,
    check_many,
    recommend_developer_type,
)
from .domain.values import (
    AppKey,
    AppName,
    AppSecret,
    CountryCode,
    DeveloperType,
    DocumentKind,
    DocumentPolicy,
    EmailAddress,
    LicenseDocument,
    MediaType,
)
from .errors import (
    ConcurrencyConflictError,
    InvalidApplicantError,
    InvalidAppNameError,
    InvalidCountryCodeError,
    InvalidCredentialError,
    InvalidDateTimeError,
    InvalidDeveloperTypeError,
    InvalidDocumentError,
    InvalidEmailError,
    InvalidPolicyError,
    InvalidRegistrationNumberError,
    NotEligibleError,
    NotFoundError,
    OnboardingError,
    PermissionDeniedError,
    TransitionNotAllowedError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AppKey",
    "AppName",
    "AppSecret",
    "Applicant",
    "ConcurrencyConflictError",
    "CountryCode",
    "DeveloperType",
    "DocumentKind",
    "DocumentPolicy",
    "EligibilityReport",
    "EmailAddress",
    "InvalidAppNameError",
    "InvalidApplicantError",
    "InvalidCountryCodeError",
    "InvalidCredentialError",
    "InvalidDateTimeError",
    "InvalidDeveloperTypeError",
    "InvalidDocumentError",
    "InvalidEmailError",
    "InvalidPolicyError",
    "InvalidRegistrationNumberError",
    "LicenseDocument",
    "MediaType",
    "NotEligibleError",
    "NotFoundError",
    "OnboardingError",
    "PermissionDeniedError",
    "Problem",
    "StorePlatform",
    "TransitionNotAllowedError",
    "ValidationError",
    "check_eligibility",
    "check_many",
    "recommend_developer_type",
]
