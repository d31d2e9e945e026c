"""The typed answers `Client` and `AsyncClient` return, by the names the client has always used.

They are defined once, in `policy_engine.wire`, which the server's OpenAPI document reads too;
this module keeps the client's import path and its two older names (`RuleRef` is the document's
`MapRuleRef`, `Explanation` its `ExplainAnswer`).
"""

from __future__ import annotations

from policy_engine.wire import (DataMap, DueItem, ErasurePlan, ExplainAnswer, ForgetAnswer, HeldData, HeldFact,
                                MapAnswer, MapRule, MapRuleRef, MatchingRule, PlanRow, PolicyInfo, PolicySummary,
                                ReloadAnswer, RequestAnswer, RetentionDue, ServedDecision, SubjectDecision,
                                SubjectEvent, SubjectRef, SubjectRequestRecord, SubjectView, Term, Terms, Tombstone,
                                Transfer, Upcoming)

RuleRef = MapRuleRef
Explanation = ExplainAnswer

__all__ = ["DataMap", "DueItem", "ErasurePlan", "Explanation", "ExplainAnswer", "ForgetAnswer", "HeldData", "HeldFact",
           "MapAnswer", "MapRule", "MapRuleRef", "MatchingRule", "PlanRow", "PolicyInfo", "PolicySummary",
           "ReloadAnswer", "RequestAnswer", "RetentionDue", "RuleRef", "ServedDecision", "SubjectDecision",
           "SubjectEvent", "SubjectRef", "SubjectRequestRecord", "SubjectView", "Term", "Terms", "Tombstone",
           "Transfer", "Upcoming"]
