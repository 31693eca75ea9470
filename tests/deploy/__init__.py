"""Tests of the deployment files in deploy/ and the Dockerfile."""
