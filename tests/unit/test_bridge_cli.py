"""`signalfire bridge` refuses bad settings and configs at start, naming what to fix."""

import pytest

from signalfire.cli.main import main

GOOD = "sinks:\n  - name: am\n    type: alertmanager\n    url: http://localhost:9093\n" \
       "routes:\n  - sinks: [am]\n"  # fmt: skip


def test_bad_settings_exit_2_with_each_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SIGNALFIRE_BRIDGE_CONFIG", raising=False)
    code = main(["bridge", "--config", str(tmp_path / "absent.yaml"), "--web-port", "x",
                 "--pager-dlq-topic", "pager"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "--bridge-config / SIGNALFIRE_BRIDGE_CONFIG" in err and "is not a file" in err
    assert "--web-port / SIGNALFIRE_WEB_PORT" in err
    assert "--pager-dlq-topic / SIGNALFIRE_PAGER_DLQ_TOPIC" in err


def test_bad_config_file_exits_2_with_file_and_line(tmp_path, capsys):
    path = tmp_path / "bridge.yaml"
    path.write_text(GOOD.replace("type: alertmanager", "type: slack"))
    assert main(["bridge", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: sink am: type must be one of" in err


def test_unreachable_kafka_exits_1_naming_the_setting(tmp_path, capsys):
    path = tmp_path / "bridge.yaml"
    path.write_text(GOOD)
    assert main(["bridge", "--config", str(path), "--brokers", "127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "cannot use Kafka" in err and "--brokers / SIGNALFIRE_BROKERS" in err


def test_no_password_flag_even_abbreviated(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bridge", "--sasl-password", "hunter2"])
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
