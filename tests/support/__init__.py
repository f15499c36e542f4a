"""What every test suite and benchmark shares, in one place:

- `process`: free ports and histo processes whose output goes to a file;
- `zookeeper`: a real standalone Apache ZooKeeper (Debian's) on a free port;
- `serve`: a real `histo serve` on a free port, with a known token;
- `events`: an independent Socket.IO client that records events;
- `images`: deterministic low-contrast test images, as arrays or PNG bytes.

`tests/conftest.py` puts `tests/` on the import path for the suites, and
`scripts/python-env` does the same for the benchmarks (a `.pth` file in the
venv), so both write `from support.serve import Server`."""
