"""Tables of the platform (SQLAlchemy 2 + GeoAlchemy2), one module a domain.

Alembic migrations create them. Importing the package registers every table on ``Base.metadata``.
"""

from layers.store.models.access import (
    AccessLog,
    ApiToken,
    AppUser,
    AuthEvent,
    LoginFailure,
    WebSession,
)
from layers.store.models.analysis import (
    HotspotResult,
    HotspotRun,
    Rollup,
    SpatialWeights,
    TargetRun,
    TargetScore,
)
from layers.store.models.base import Base
from layers.store.models.cases import (
    Agency,
    Attachment,
    Case,
    CaseEvent,
    Deadline,
    Office,
    Outbox,
    Route,
)
from layers.store.models.citizens import (
    CitizenReport,
    Community,
    CommunityIssue,
    CommunityMeeting,
    EnrolmentCode,
    LineLink,
    LineLinkCode,
    PlanItem,
    ProblemSearch,
    ReportPhoto,
    SolvedQuestion,
)
from layers.store.models.delivery import ExportJob
from layers.store.models.geography import (
    AdminUnit,
    AdminUnitPart,
    BoundaryVersion,
    Layer,
    LayerFeature,
    Raster,
)
from layers.store.models.survey import (
    Household,
    ImportJob,
    Problem,
    ProblemCategory,
    QuarantinedRow,
)

__all__ = [
    "AccessLog",
    "AdminUnit",
    "AdminUnitPart",
    "Agency",
    "ApiToken",
    "AppUser",
    "Attachment",
    "AuthEvent",
    "Base",
    "BoundaryVersion",
    "Case",
    "CaseEvent",
    "CitizenReport",
    "Community",
    "CommunityIssue",
    "CommunityMeeting",
    "Deadline",
    "EnrolmentCode",
    "ExportJob",
    "HotspotResult",
    "HotspotRun",
    "Household",
    "ImportJob",
    "Layer",
    "LayerFeature",
    "LineLink",
    "LineLinkCode",
    "LoginFailure",
    "Office",
    "Outbox",
    "PlanItem",
    "Problem",
    "ProblemCategory",
    "ProblemSearch",
    "QuarantinedRow",
    "Raster",
    "ReportPhoto",
    "Rollup",
    "Route",
    "SolvedQuestion",
    "SpatialWeights",
    "TargetRun",
    "TargetScore",
    "WebSession",
]
