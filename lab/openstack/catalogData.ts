// The lab's fixed catalog: a few small flavors (the VMs are network namespaces, so sizes are
// nominal) and one image.

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export const FLAVORS: readonly Flavor[] = [
  { id: "1", name: "m1.tiny", vcpus: 1, ram: 512, disk: 1 },
  { id: "2", name: "m1.small", vcpus: 1, ram: 2048, disk: 20 },
  { id: "3", name: "m1.medium", vcpus: 2, ram: 4096, disk: 40 },
  { id: "4", name: "m1.large", vcpus: 4, ram: 8192, disk: 80 },
];

export interface Image {
  id: string;
  name: string;
  size: number;
  checksum: string;
  created_at: string;
}

export const IMAGES: readonly Image[] = [
  {
    id: "6f1a4b8e-0c2d-4e5f-9a7b-3c8d2e1f0a60",
    name: "cirros-0.6.2",
    size: 21430272,
    checksum: "c8fc807773e5354afe61636071771906",
    created_at: "2024-01-01T00:00:00Z",
  },
];

export const findFlavor = (id: string) => FLAVORS.find((f) => f.id === id);
export const findImage = (id: string) => IMAGES.find((i) => i.id === id);

/** Accepts an id or a link ("http://.../flavors/1") as Nova does for flavorRef / imageRef. */
export const refId = (ref: string) => ref.replace(/\/+$/, "").split("/").pop() ?? ref;
