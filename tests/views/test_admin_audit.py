"""The admin's view of the audit log. Both databases."""
from __future__ import annotations

import re

from tests.conftest import login


def test_admins_browse_the_audit_log_newest_first_in_constant_queries(app, client, make_user, count_queries):
    """The log page pages by sequence number: the same queries at 10 and at 600 entries; filters work."""
    from lms.db_setup import begin_write
    from lms.extensions import db
    from lms.services import audit

    make_user("admin", email="root@example.com")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, "root@example.com")

    def grow(n):
        begin_write()
        audit.record_many(audit.Event("grade.released", "attempt", str(i), course_id=1) for i in range(n))
        db.session.commit()

    grow(10)
    with count_queries() as small:
        page = client.get("/admin/audit?group=grade").get_data(as_text=True)
    assert "grade.released" in page and "account.created" not in page
    grow(600)
    with count_queries() as large:
        page = client.get("/admin/audit").get_data(as_text=True)
    assert "Older entries" in page and small.count == large.count
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', page).group(1).replace("&amp;", "&")
    assert client.get(older).status_code == 200
