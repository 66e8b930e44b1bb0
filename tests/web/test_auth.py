from flask import g
from tests.conftest import login

def test_probe(app, db, users, client):
    other = app.test_client()
    login(client, "submitter@a.test")
    r = other.post("/login", data={"email": "submitter@b.test", "password": "correct horse battery staple"})
    print(r.status_code, r.headers.get("Location"), other.get_cookie("session"))
    print(g.get("_login_user").email)
    r = other.get("/reseller/acceptances")
    print(g.get("_login_user").email)
