"""Reserved tenant names for synthetic rows (after OpenCost's __idle__ / __unallocated__)."""

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
SHARED = "__shared__"

BY_COLUMNS = ("team", "namespace", "nodepool", "cluster", "model")
IDLE_POLICIES = ("separate", "share")
SHARE_SCOPES = ("cluster", "nodepool")
