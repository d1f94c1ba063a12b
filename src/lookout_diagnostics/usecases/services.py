"""What differs between the anomaly-detection services, behind one small interface.

A diagnostics file's service is known from its name (lookout_diagnostics.domain.services). Everything
else the paths share (the summary engine, alert composition, the ledger and the once-only gate) does not
depend on the service; what does sits here: whose file it is, and what its sensors are called. A third
service is one more class with these two methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from lookout_diagnostics.aws.lookout import LookoutClient
from lookout_diagnostics.aws.sitewise import SiteWiseClient
from lookout_diagnostics.domain.identity import Identification, identify
from lookout_diagnostics.domain.locations import S3Location
from lookout_diagnostics.domain.services import Service
from lookout_diagnostics.domain.sitewise import identify_evaluation, readable_names


class DetectionService(Protocol):
    service: Service

    def identify(self, location: S3Location) -> Identification:
        """Which model (version, execution) wrote this file, as the service itself says."""
        ...

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        """A readable name for each sensor name that has one (raw name -> readable name)."""
        ...


class LookoutForEquipment:
    """L4E: DescribeModelVersion names a version's file; sensor names (``component\\sensor``) are readable."""

    service = Service.LOOKOUT_FOR_EQUIPMENT

    def identify(self, location: S3Location) -> Identification:
        return identify(location, LookoutClient())

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        return {}


class IoTSiteWise:
    """SiteWise: a training action's evaluation destination holds the file; sensors are named by ids."""

    service = Service.IOT_SITEWISE

    def __init__(self) -> None:
        self._reader = SiteWiseClient()  # one per invocation: assets are described once

    def identify(self, location: S3Location) -> Identification:
        return identify_evaluation(location, self._reader)

    def readable_names(self, raw_names: Iterable[str]) -> dict[str, str]:
        return readable_names(raw_names, self._reader)


def detection_service(service: Service) -> DetectionService:
    implementations: dict[Service, type[LookoutForEquipment] | type[IoTSiteWise]] = {
        Service.LOOKOUT_FOR_EQUIPMENT: LookoutForEquipment,
        Service.IOT_SITEWISE: IoTSiteWise,
    }
    return implementations[service]()
