"""Pure decisions over an appeal: category, unit, deadline, major, crisis."""
