export const colors = { brand: "#0b5fff", ink: "#111827" };
export const spacing = [0, 4, 8, 12, 16, 24, 32];
