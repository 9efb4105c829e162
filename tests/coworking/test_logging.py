import json
import logging

from coworking.logging import JsonFormatter


def test_log_lines_are_json_with_structured_context():
    record = logging.LogRecord("coworking.test", logging.INFO, __file__, 1, "booked %s", ("desk",), None)
    record.request_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "booked desk"
    assert line["level"] == "INFO"
    assert line["request_id"] == "abc"
    assert line["time"].endswith("+00:00")


def test_every_request_is_logged_with_its_id(client, db, caplog):
    with caplog.at_level(logging.INFO, logger="coworking.request"):
        response = client.get("/", headers={"X-Request-ID": "proxy-123"})
    assert response["X-Request-ID"] == "proxy-123"
    record = next(r for r in caplog.records if r.name == "coworking.request")
    assert record.status == 200
    assert record.path == "/"
    assert record.request_id == "proxy-123"


def test_tasks_are_logged_with_their_outcome(db, caplog):
    from coworking.tasks import heartbeat

    with caplog.at_level(logging.INFO, logger="coworking.task"):
        heartbeat.delay()
    finished = [r for r in caplog.records if r.name == "coworking.task" and "finished" in r.getMessage()]
    assert finished
    assert finished[0].task == "coworking.tasks.heartbeat"
    assert finished[0].state == "SUCCESS"
