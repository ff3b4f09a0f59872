"""Start the web UI (under ``/ui/``) and the HTTP API (``/v1``) in one process:
``python app.py [--host H] [--port P] [--data-dir DIR]``.

Settings come from the environment (``ASSISTANT_*``) and ``assistant.toml`` as everywhere else;
the flags override them.
"""

from __future__ import annotations

import argparse
import logging
import os

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the web UI (/ui/) and the HTTP API (/v1).")
    parser.add_argument("--host", default=None, help="interface to bind (default: settings, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: settings, 7860)")
    parser.add_argument("--data-dir", default=None, help="library folder (default: settings, .assistant)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from assistant.config import Settings
    from assistant.errors import AssistantError
    from assistant.interfaces.serve import launch

    try:
        settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
        launch(settings, host=args.host, port=args.port)
    except AssistantError as e:
        parser.exit(2, f"error: {e}\n")


if __name__ == "__main__":
    main()
