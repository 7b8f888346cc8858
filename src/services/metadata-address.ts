/** Where apps on local NIs find the metadata service (cloud-init's OpenStack/EC2 address), HTTP only. */
export const METADATA_ADDRESS = '169.254.169.254';
export const METADATA_PORT = 80;
