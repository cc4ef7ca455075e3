"""Citizens' own door in: enrolment codes, their reports, the district team's queue."""
