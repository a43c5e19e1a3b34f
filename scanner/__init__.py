"""artifact-scan: a policy-as-code scanner for AWS Artifact's integration with AWS Organizations."""

__version__ = "0.1.0"
