//! Test-side helpers shared by the integration suites.
