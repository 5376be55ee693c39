"""The operator image without a container engine: `build` (debootstrap + umoci), `sandbox` (run
a process in the unpacked root filesystem), `spec` (what the image is; the Dockerfile agrees).

    python -m tools.image build        # or: nox -s image
"""
