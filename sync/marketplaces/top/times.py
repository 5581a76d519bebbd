"""TOP speaks `yyyy-MM-dd HH:mm:ss` in GMT+8; we store aware UTC. Convert only here, at the boundary."""
from datetime import datetime, timedelta, timezone

TOP_TZ = timezone(timedelta(hours=8), "GMT+8")
TOP_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_top(moment: datetime) -> str:
    """An aware datetime as TOP's GMT+8 string (seconds; sub-second part dropped)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to to_top(); pass an aware datetime")
    return moment.astimezone(TOP_TZ).strftime(TOP_FORMAT)


def from_top(text: str) -> datetime:
    """A TOP GMT+8 string as an aware UTC datetime; raises ValueError when it is not one."""
    return datetime.strptime(str(text).strip(), TOP_FORMAT).replace(tzinfo=TOP_TZ).astimezone(timezone.utc)
