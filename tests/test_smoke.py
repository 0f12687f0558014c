def test_study_list_shows_only_member_studies(cast, clients):
    r = clients["coder"].get("/studies/")
    assert r.status_code == 200
    assert "Remote mental-health care" in r.content.decode()
    assert "Another study" not in r.content.decode()
