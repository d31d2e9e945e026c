"""How the policy's own terms map onto two shared vocabularies: the W3C Data Privacy
Vocabulary (DPV 2) and the fideslang taxonomy (its default data categories and data uses).

A policy's ids are its own (`email`, `order_processing`), so the mapping reads each term's id
and label against an ordered list of (pattern, concept): the first pattern found decides, a
term nothing matches takes its parent's concept, and a root nothing matches the vocabulary's
most general one (dpv:PersonalData / fideslang `user`; dpv:Purpose / fideslang `operations`).
The tables are deliberately short and easy to extend; a mapping is a suggestion a DPO
reviews, which is why every exported term keeps its own id and label beside it.
"""

from __future__ import annotations

import re

# ---- DPV ----------------------------------------------------------------------------------

DPV_DATA: tuple[tuple[str, str], ...] = (
    (r"e-?mail", "pd:EmailAddress"),
    (r"phone|telephone", "pd:TelephoneNumber"),
    (r"\bip\b|ip.address", "pd:IPAddress"),
    (r"postal|\baddress\b", "pd:PhysicalAddress"),
    (r"\bname\b", "pd:Name"),
    (r"payment|credit.card", "pd:PaymentCardNumber"),
    (r"location", "pd:Location"),
    (r"brows|cookie", "pd:BrowsingBehaviour"),
)
DPV_PURPOSES: tuple[tuple[str, str], ...] = (
    (r"newsletter|offers|promotion", "dpv:DirectMarketing"),
    (r"advertis", "dpv:Advertising"),
    (r"marketing", "dpv:Marketing"),
    (r"fraud|crime|abuse", "dpv:FraudPreventionAndDetection"),
    (r"identity|verif", "dpv:IdentityVerification"),
    (r"legal|law|tax", "dpv:LegalCompliance"),
    (r"personali[sz]", "dpv:ServicePersonalisation"),
    (r"improve|optimi", "dpv:ServiceOptimisation"),
    (r"develop|research", "dpv:ResearchAndDevelopment"),
    (r"account", "dpv:AccountManagement"),
    (r"support|inquir|enquir|customer", "dpv:CustomerCare"),
    (r"notification|updates|communicat", "dpv:CommunicationManagement"),
    (r"security|secure", "dpv:EnforceSecurity"),
    (r"order|service|publish", "dpv:ServiceProvision"),
)
DPV_RECIPIENTS: tuple[tuple[str, str], ...] = (
    (r"authorit|law requires", "dpv:Authority"),
    (r"service.provider|processor|on our behalf", "dpv:DataProcessor"),
    (r"", "dpv:ThirdParty"),
)
DPV_BASES: dict[str, tuple[str, str]] = {  # basis -> (DPV core concept, GDPR article)
    "consent": ("dpv:Consent", "eu-gdpr:A6-1-a"),
    "contract": ("dpv:Contract", "eu-gdpr:A6-1-b"),
    "legal_obligation": ("dpv:LegalObligation", "eu-gdpr:A6-1-c"),
    "vital_interests": ("dpv:VitalInterest", "eu-gdpr:A6-1-d"),
    "public_task": ("dpv:PublicInterest", "eu-gdpr:A6-1-e"),
    "legitimate_interests": ("dpv:LegitimateInterest", "eu-gdpr:A6-1-f"),
}
DPV_ACTIONS: dict[str, str] = {"collect": "dpv:Collect", "use": "dpv:Use", "share": "dpv:Share",
                               "retain": "dpv:Store"}
DPV_MEASURES: tuple[tuple[str, str], ...] = (
    (r"encrypt", "dpv:Encryption"),
    (r"password", "dpv:PasswordAuthentication"),
    (r"physical", "dpv:PhysicalMeasure"),
    (r"", "dpv:TechnicalOrganisationalMeasure"),
)

# ---- fideslang ----------------------------------------------------------------------------

FIDES_DATA: tuple[tuple[str, str], ...] = (
    (r"e-?mail", "user.contact.email"),
    (r"phone|telephone", "user.contact.phone_number"),
    (r"\bip\b|ip.address", "user.device.ip_address"),
    (r"postal|\baddress\b", "user.contact.address"),
    (r"\bname\b", "user.name"),
    (r"cookie", "user.device.cookie"),
    (r"credit.card", "user.financial.credit_card"),
    (r"payment", "user.payment"),
    (r"location", "user.location"),
    (r"password", "user.authorization.password"),
    (r"username|account", "user.account"),
    (r"purchase|order", "user.behavior.purchase_history"),
    (r"brows", "user.behavior.browsing_history"),
    (r"post|comment|content|writes", "user.content"),
)
FIDES_USES: tuple[tuple[str, str], ...] = (
    (r"newsletter", "marketing.communications.email"),
    (r"partner.news|webinar", "marketing.communications"),
    (r"offers|promotion", "marketing.advertising"),
    (r"advertis", "marketing.advertising"),
    (r"marketing", "marketing"),
    (r"analy[sz]", "analytics.reporting"),
    (r"fraud|crime|abuse", "essential.fraud_detection"),
    (r"identity|verif|authenticat", "essential.service.authentication"),
    (r"legal|law|tax", "essential.legal_obligation"),
    (r"accounting|finance|audit", "finance"),
    (r"personali[sz]", "personalize"),
    (r"improve|develop", "functional.service.improve"),
    (r"preference|remember", "functional.storage"),
    (r"support|inquir|enquir|follow.up", "essential.service.operations.support"),
    (r"notification|e-?mails from", "essential.service.notifications.email"),
    (r"updates", "essential.service.upgrades"),
    (r"payment", "essential.service.payment_processing"),
    (r"security", "essential.service.security"),
    (r"account", "essential.service.operations"),
    (r"social.media", "functional.service"),
    (r"order|essential|publish|service", "essential.service"),
)


def _words(term_id: str, label: str) -> str:
    return (term_id.replace("_", " ").replace(".", " ") + " | " + label).lower()


def match(table: tuple[tuple[str, str], ...], term_id: str, label: str) -> str | None:
    text = _words(term_id, label)
    for pattern, concept in table:
        if re.search(pattern, text):
            return concept
    return None


def mapped(table: tuple[tuple[str, str], ...], terms: dict[str, object], term_id: str, fallback: str) -> str:
    """The concept of a term: its own match, else its parent's, else `fallback`."""
    while True:
        term = terms[term_id]
        concept = match(table, term_id, getattr(term, "label", ""))
        if concept is not None:
            return concept
        parent = getattr(term, "parent", None)
        if parent is None:
            return fallback
        term_id = parent
