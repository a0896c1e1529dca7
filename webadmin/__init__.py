"""Flask web admin. Depends on firmware/, drivers/ and dsp/."""


class WebAdminError(Exception):
    """The one error class of webadmin/."""
