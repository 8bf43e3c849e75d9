"""The organization, its roots, policy types (INSPECTOR_POLICY...), policies and effective policies."""
