"""A parcel's carrier trace as TOP gives it: `taobao.logistics.trace.search` (tid) ->
`out_sid, company_name, tid, status, trace_list.transit_step_info[{status_time, status_desc, action}]`
(reference/top-api/taobao_logistics_trace_search.json). The answer is checked whole (MalformedAnswer)."""
from sync.errors import MalformedAnswer
from sync.marketplaces.records import Trace, TraceNode

from .mapping import _text, _time, unwrap_list

TRACE_SEARCH = "taobao.logistics.trace.search"
# Node actions that mean the parcel was signed for (Cainiao's action codes). The answer's own `status` is not
# used for this: TOP documents that a parcel shipped with logistics.offline.send reports "对方已签收" at once,
# whatever the carrier says, so only a signing node counts.
SIGNED_ACTIONS = frozenset({"SIGNED", "TMS_SIGN", "STA_SIGN"})


def trace_read(body: dict) -> Trace:
    """The answer object (`logistics_trace_search_response`) as a Trace; raises MalformedAnswer."""
    where = "logistics_trace_search_response"
    nodes = []
    for i, step in enumerate(unwrap_list(body.get("trace_list"), "transit_step_info")):
        if not isinstance(step, dict):
            raise MalformedAnswer(f"{where}.trace_list[{i}] is not an object", code="bad-list")
        nodes.append(TraceNode(at=_time(step, "status_time", f"{where}.trace_list[{i}]", required=True),
                               text=_text(step, "status_desc", 300), action=_text(step, "action", 40)))
    return Trace(tid=str(body.get("tid") or ""), out_sid=_text(body, "out_sid", 64),
                 company_name=_text(body, "company_name", 100), status=_text(body, "status", 100),
                 nodes=tuple(nodes), delivered=any(node.action.upper() in SIGNED_ACTIONS for node in nodes))


def trace_search(client, tid: int) -> Trace:
    """One call for the trace of trade `tid`. Raises SyncError subclasses (BusinessError for an unknown trade)."""
    return client.call(TRACE_SEARCH, {"tid": tid}, read=trace_read)
