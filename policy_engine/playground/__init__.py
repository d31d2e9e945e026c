"""The playground: a policy in the browser, checked as you type, with questions answered in
sentences, the edit compared with the file on disk, the rendered document and the data map.
`create_app(policy_path)` is the app; `mount(app, policy_path)` puts it under `/playground`."""

from policy_engine.playground.app import create_app, mount

__all__ = ["create_app", "mount"]
