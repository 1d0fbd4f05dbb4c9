"""costlab FinOps dashboard: `costlab dashboard` runs `streamlit run dashboards/app.py`.

Environment: COSTLAB_DB (database path, opened read-only), COSTLAB_TENANT (tenant-scoped mode),
COSTLAB_TRUST_PROXY_HEADER=1 (take the tenant from a proxy header, see dashboards/access.py),
COSTLAB_MONTHLY_BUDGET_USD (budget shown on the Overview page).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from costlab.store import DatabaseLocked  # noqa: E402
from dashboards import common  # noqa: E402

st.set_page_config(page_title="costlab", page_icon=":material/payments:", layout="wide")

PAGES = [
    st.Page(
        "views/overview.py",
        title="Overview",
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
    st.Page("views/tenants.py", title="Tenants", icon=":material/groups:", url_path="tenants"),
    st.Page("views/gpus.py", title="GPUs", icon=":material/memory:", url_path="gpus"),
    st.Page(
        "views/tokens.py", title="Tokens and sessions", icon=":material/token:", url_path="tokens"
    ),
    st.Page("views/whatif.py", title="What-if", icon=":material/science:", url_path="whatif"),
]

page = st.navigation(PAGES)
ctx = common.setup()
try:
    page.run()
except DatabaseLocked:
    # a writer took the database between two queries of this page
    common.updating_notice(ctx.queries.db_path)
